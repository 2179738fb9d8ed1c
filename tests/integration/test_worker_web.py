"""A user's first `driftline run --config FILE`, from an empty directory, with a token and secrets that hold
``"`` and ``@``: it gets ready, guards its pages, lets a browser sign in, and never shows a secret."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from driftline.cli import main
from driftline.settings import load_settings

from tests.support.browser import Browser
from tests.support.kafka import produce
from tests.support.servers import free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

SECRETS = {
    "DL_TOKEN": 'tok"en@7f3a-91c2',
    "DL_SASL_PASSWORD": 'sasl"pa@ss-4b2a',
    "DL_WEBHOOK_SECRET": 'hook"se@cret-8a9b',
    "DL_WEBHOOK_URL": 'http://hookuser:url"pa@ss-3e5f@127.0.0.1:9/hook-path-6d7e?key=url-key-1a2b',
}
TOKEN = SECRETS["DL_TOKEN"]
AUTH = {"Authorization": f"Bearer {TOKEN}"}

CONFIG = """
kafka:
  bootstrap_servers: "{bootstrap}"
  group_id: web-{run}
  session_timeout: 4s
  topics: {{predictions: p-{run}, feedback: f-{run}, alerts: a-{run}, dead_letter: d-{run}}}
  security: {{protocol: PLAINTEXT, sasl_username: driftline, sasl_password: "${{DL_SASL_PASSWORD}}"}}
clickhouse:
  url: "clickhouse://default:@127.0.0.1:{ch_port}/web_{run}"
  flush_rows: 1000
metrics:
  port: {port}
  token: "${{DL_TOKEN}}"
models:
  - name: credit
    features: {{income: numeric, country: categorical}}
    reference: {{warmup_events: 200}}
    window: {{size: 60s, idle_close: 3s}}
alerts:
  channels:
    - {{type: webhook, name: hook, url: "${{DL_WEBHOOK_URL}}", secret: "${{DL_WEBHOOK_SECRET}}"}}
"""


def leaks(text: str) -> list[str]:
    """Secrets ``text`` shows, whole or in part (each ``word-<4 hex>`` part of a secret counts)."""
    return [name for name, value in SECRETS.items()
            if value in text or any(part in text for part in re.findall(r'[\w"]*-[0-9a-f]{4}', value))]


class RunningWorker:
    def __init__(self, workdir: Path, config: Path, port: int) -> None:
        self.workdir, self.config, self.port = workdir, config, port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = config.parent / "worker.log"
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "driftline.cli", "run", "--config", str(config)],
                                         cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
                                         env={**os.environ, **SECRETS})

    def get(self, path: str, **kw) -> httpx.Response:
        return httpx.get(self.url + path, timeout=10, **kw)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        self.proc.terminate()
        try:
            self.proc.wait(40)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return self.proc.returncode


def predictions(n: int) -> list[tuple[str, bytes]]:
    """``n`` predictions of credit over the last few minutes (the status page shows the last 24 h)."""
    start = int(time.time() * 1000) - 5 * 60_000
    return [("credit", json.dumps({
        "event_id": f"e-{i}", "model": "credit", "version": "v1", "ts": start + i * 100,
        "features": {"income": 40_000 + (i * 7919) % 20_000, "country": ["DE", "FR", "US"][i % 3]},
        "prediction": i % 2, "score": (i % 10) / 10}).encode()) for i in range(n)]


@pytest.fixture(scope="module")
def worker(broker, clickhouse, tmp_path_factory):
    run = uuid.uuid4().hex[:8]
    workdir = tmp_path_factory.mktemp("empty-workdir")  # nothing in it: no .driftline/
    config = tmp_path_factory.mktemp("config") / "driftline.yaml"
    port = free_port()
    config.write_text(CONFIG.format(bootstrap=broker.bootstrap_servers, run=run, ch_port=clickhouse.tcp_port, port=port))
    broker.create_topics([f"p-{run}", f"f-{run}", f"a-{run}", f"d-{run}"], partitions=1)
    running = RunningWorker(workdir, config, port)
    try:
        wait_until(lambda: running.get("/healthz").status_code == 200, 120, "the worker ready",
                   process=running.proc, log=running.log_path, retry_on=(httpx.HTTPError,))
        produce(broker.bootstrap_servers, f"p-{run}", predictions(3000))
        yield running
    finally:
        code = running.stop()
        print(running.log()[-3000:])
        assert code in (0, -15), f"the worker exited with {code}"


def test_run_from_an_empty_directory_creates_its_data_directory_and_gets_ready(worker):
    assert (worker.workdir / ".driftline" / "faust").is_dir()
    ready = worker.get("/healthz")  # no token: the probe path is public
    assert ready.status_code == 200 and ready.json() == {"status": "ok", "reason": "ok"}
    assert worker.get("/livez").status_code == 200


def test_every_other_path_needs_the_token(worker):
    for path in ("/metrics", "/api/models", "/", "/static/app.js", "/api/alerts"):
        response = worker.get(path)
        assert response.status_code == 401, path
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="driftline"'
        assert worker.get(path, headers={"Authorization": "Bearer nope"}).status_code == 401, path
        assert worker.get(path, headers=AUTH).status_code == 200, path
    page = worker.get("/", headers={"Accept": "text/html"})  # a browser is sent to the login form
    assert page.status_code == 303 and page.headers["Location"] == "/login?next=/"
    assert worker.get("/api/models?range=soon", headers=AUTH).status_code == 400
    assert worker.get("/api/models?range=1h", headers=AUTH).json()["models"][0]["name"] == "credit"


async def test_a_browser_signs_in_with_the_token_and_uses_the_status_page(worker, tmp_path):
    models = wait_until(lambda: (m := worker.get("/api/models", headers=AUTH).json()["models"]) and m[0]["versions"]
                        and m, 90, "credit's first closed window on the API", retry_on=(httpx.HTTPError,))
    assert models[0]["versions"][0]["predictions"] > 0
    async with Browser(tmp_path / "chrome") as page:
        await page.navigate(worker.url + "/")
        await page.wait_for("location.pathname === '/login' && !!document.querySelector('input[name=token]')",
                            what="the login form")
        await page.evaluate(f"document.querySelector('input[name=token]').value = {json.dumps(TOKEN)};"
                            "document.querySelector('form').requestSubmit(); true")
        await page.wait_for("location.pathname === '/' && document.body.dataset.loaded === '1'", 30,
                            "the status page, loaded")
        names = await page.evaluate("[...document.querySelectorAll('.model-name')].map(n => n.textContent)")
        assert names == ["credit"]
        assert "predictions" in await page.evaluate("document.querySelector('.version-row').textContent")
        assert await page.evaluate("document.cookie") == ""  # HttpOnly: no script can read the session
        (cookie,) = [c for c in await page.cookies() if c["name"] == f"driftline_session_{worker.port}"]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and not cookie["secure"]
        assert leaks(cookie["value"]) == []
        assert await page.evaluate("fetch('/api/models').then(r => r.status)") == 200
        # Each model links to its governance dossier, made on demand behind the same session.
        link = await page.wait_for("(document.querySelector('.dossier-link') || {}).href", 30, "the dossier link")
        assert link.startswith(worker.url + "/report/credit?version=")
        assert await page.evaluate(f"fetch({json.dumps(link)}).then(r => r.text())"
                                   ".then(t => t.includes('Governance dossier: credit'))") is True

        await page.evaluate("document.querySelector('form.signout').submit(); true")
        await page.wait_for("location.pathname === '/login'", what="the login form after signing out")
        assert await page.evaluate("fetch('/api/models').then(r => r.status)") == 401
        assert not [c for c in await page.cookies() if c["name"] == f"driftline_session_{worker.port}"]

        await page.navigate(worker.url + "/login")  # a wrong token gets the form again, and no cookie
        await page.wait_for("!!document.querySelector('input[name=token]')", what="the login form")
        await page.evaluate("document.querySelector('input[name=token]').value = 'wrong';"
                            "document.querySelector('form').requestSubmit(); true")
        await page.wait_for("document.body.textContent.includes('not the token')", what="the refusal")
        assert not [c for c in await page.cookies() if c["name"] == f"driftline_session_{worker.port}"]


def test_no_secret_in_any_output(worker):
    """check-config, reprs, /metrics, every API body, the login page, refusals and the worker's log."""
    # The fixture's events may still be on their way (this test can run first on its xdist worker).
    wait_until(lambda: "credit" in worker.get("/metrics", headers=AUTH).text, 60, "the worker's first events")
    texts = [
        CliRunner().invoke(main, ["check-config", str(worker.config)], env=SECRETS).output,
        repr(load_settings(worker.config, environ=SECRETS)),
        worker.get("/metrics", headers=AUTH).text,
        worker.get("/healthz").text, worker.get("/livez").text, worker.get("/login").text,
        worker.get("/api/models").text, worker.get("/api/models", headers={"Authorization": "Bearer x"}).text,
    ]
    for path in ("/api/models", "/api/alerts", "/api/models/credit/drift", "/api/models/credit/performance",
                 "/api/models/credit/latency", "/"):
        response = worker.get(path, headers=AUTH)
        assert response.status_code == 200, path
        texts.append(response.text)
    assert "credit" in texts[2] and "driftline_events_total" in texts[2]  # /metrics said something
    assert leaks("\n".join(texts)) == []
    log = worker.log()
    assert "Traceback" not in log, log[-3000:]
    assert leaks(log) == [], log[-3000:]
    assert leaks("\n".join(SECRETS.values())) == list(SECRETS)  # the check itself finds each secret
