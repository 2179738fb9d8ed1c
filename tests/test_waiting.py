"""tests.support.waiting.wait_until: what it returns, and what its failures say."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.waiting import wait_until


def test_returns_the_first_truthy_value():
    values = iter([None, 0, [], {"up": 1}])
    assert wait_until(lambda: next(values), 5, "a value", interval=0) == {"up": 1}


def test_timeout_names_what_and_the_last_value_and_shows_the_log(tmp_path):
    log = tmp_path / "server.log"
    log.write_text("line one\nbind: address already in use\n")
    with pytest.raises(AssertionError, match=r"(?s)timed out after 0.2s waiting for the server \(last: 0\)"
                                             r".*address already in use"):
        wait_until(lambda: 0, 0.2, "the server", interval=0.05, log=log)


def test_retry_on_treats_those_errors_as_not_yet_and_reports_the_last():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError(f"refused {len(calls)}")
        return "up"

    assert wait_until(flaky, 5, "a connection", interval=0, retry_on=(ConnectionError,)) == "up"
    with pytest.raises(AssertionError, match=r"last: ConnectionError\('nope'\)"):
        wait_until(lambda: (_ for _ in ()).throw(ConnectionError("nope")), 0.1, "x", interval=0.02,
                   retry_on=(ConnectionError,))
    with pytest.raises(KeyError):  # anything else is a bug in the predicate: it propagates
        wait_until(lambda: {}["missing"], 1, "x", retry_on=(ConnectionError,))


def test_a_process_that_exits_fails_at_once_with_its_output(tmp_path):
    log = tmp_path / "out.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", "print('config is broken'); raise SystemExit(3)"],
                                stdout=out, stderr=subprocess.STDOUT)
    proc.wait(30)
    with pytest.raises(AssertionError, match=r"(?s)exited \(3\) while waiting for the page.*config is broken"):
        wait_until(lambda: None, 60, "the page", process=proc, log=log)
