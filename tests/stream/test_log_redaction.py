"""The HTTP client's log never shows a channel URL's secret part (issue 18): httpx logs each request's URL
at INFO, and a worker logs at INFO."""

from __future__ import annotations

import logging

import httpx
from driftline.stream.log_redaction import redact_http_logs

SLACK = "https://hooks.slack.com/services/T0SECRET/B0SECRET/XyZsecret"
HOOK = "http://ci:pa55word@127.0.0.1:8080/retrain?key=k3y-secret"


async def test_request_lines_keep_the_host_and_status_and_lose_the_path_and_credentials(caplog):
    redact_http_logs()
    redact_http_logs()  # idempotent: one filter
    assert len(logging.getLogger("httpx").filters) == 1
    client = httpx.AsyncClient(transport=httpx.MockTransport(lambda request: httpx.Response(200)))
    with caplog.at_level(logging.INFO, logger="httpx"):
        for url in (SLACK, HOOK):
            await client.post(url, json={"a": 1})
    await client.aclose()
    lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert lines == ['HTTP Request: POST https://hooks.slack.com/*** "HTTP/1.1 200 OK"',
                     'HTTP Request: POST http://127.0.0.1:8080/*** "HTTP/1.1 200 OK"']
    assert not any(secret in caplog.text for secret in ("SECRET", "secret", "pa55word"))
