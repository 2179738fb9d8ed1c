"""The HTTP client's own log lines, with the URLs they name cut to scheme and host.

httpx logs every request at INFO: ``HTTP Request: POST https://hooks.slack.com/services/T0/B0/XYZ
"HTTP/1.1 200 OK"``. The path of a Slack or PagerDuty URL, a webhook's query key, a user and
password in a URL are secrets, and a worker logs at INFO. :func:`redact_http_logs` puts a filter on
httpx's logger that shows such a URL as :func:`~driftline.settings.redact_url` does
(``https://hooks.slack.com/***``): the line still says a request went out, to which host, and its
status. The wiring installs it with the alert channels' client.
"""

from __future__ import annotations

import logging

import httpx
from driftline.settings import redact_url

__all__ = ["RedactedUrls", "redact_http_logs"]

HTTP_LOGGERS = ("httpx", "httpcore")


class RedactedUrls(logging.Filter):
    """Replaces every URL among a record's arguments by its scheme and host."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, httpx.URL) for a in record.args):
            record.args = tuple(redact_url(str(a)) if isinstance(a, httpx.URL) else a for a in record.args)
        return True


_FILTER = RedactedUrls()


def redact_http_logs() -> None:
    """Install the filter on the HTTP client's loggers (once, whatever the number of calls)."""
    for name in HTTP_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
