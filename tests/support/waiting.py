"""Waiting for something a real server or a subprocess does, with a failure that says what and why."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["wait_until"]

T = TypeVar("T")


def _tail(log: Path | None, limit: int = 4000) -> str:
    if log is None:
        return ""
    try:
        return "\n" + log.read_text(errors="replace")[-limit:]
    except OSError as exc:
        return f"\n(no log at {log}: {exc})"


def wait_until(predicate: Callable[[], T], timeout: float, what: str, *, interval: float = 0.25,
               process: subprocess.Popen | None = None, log: Path | None = None,
               retry_on: tuple[type[BaseException], ...] = ()) -> T:
    """Poll ``predicate`` until it returns something truthy, and return that.

    Fails (AssertionError) after ``timeout`` seconds naming ``what`` and the last value.
    ``process``: a subprocess that must stay up; its exit fails at once. ``log``: a file whose
    tail both failures show (the process's output). ``retry_on``: exceptions that mean "not
    yet" (a server still starting refuses connections); the last one is reported.

    >>> calls = iter([0, None, "ready"])
    >>> wait_until(lambda: next(calls), 1, "the third call", interval=0)
    'ready'
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the process exited ({process.returncode}) while waiting for {what}{_tail(log)}")
        try:
            last = predicate()
        except retry_on as exc:
            last = exc
        if last and not isinstance(last, BaseException):
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r}){_tail(log)}")
        time.sleep(interval)
