"""The one exception of the settings layer, and the one way a problem is shown.

Hierarchy::

    ConfigError (ValueError)    root and only class: one or more problems in a config
                                (``driftline`` exits 2); ``problems`` lists them all

Every problem is one line, ``key.path: <value> is invalid, expected <what>``. A value is
never shown if it could be a secret: under a secret-looking key it is ``'***'``, a password
in a URL becomes ``***``, and a value that came from the environment is shown as the
``${VAR}`` reference written in the file, not as what the variable holds.

>>> print(ConfigProblem("kafka.batch_size", 0, "an integer in [1, 1000000]"))
kafka.batch_size: 0 is invalid, expected an integer in [1, 1000000]
>>> print(ConfigProblem("kafka.security.sasl_password", "hunter2", "a non-empty string"))
kafka.security.sasl_password: '***' is invalid, expected a non-empty string
>>> print(ConfigProblem("clickhouse.url", "http://u:pw@h/db", "a URL with scheme clickhouse://"))
clickhouse.url: 'http://u:***@h/db' is invalid, expected a URL with scheme clickhouse://
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .env import EnvStr

__all__ = ["MISSING", "ConfigError", "ConfigProblem", "is_secret_key", "mask_url_password", "redact",
           "redact_url", "show"]

_SECRET_KEY = re.compile(r"(secret|password|token|routing_key|integration_key|api_key|headers)", re.IGNORECASE)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_HOST = re.compile(r"[\w.~%-]+(:\d*)?$|\[[0-9a-f:.]+\](:\d*)?$", re.IGNORECASE)
_MAX_SHOWN = 200


class _Missing:
    """A required key that is not there at all."""

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()


def is_secret_key(path: str) -> bool:
    """Whether the last key of ``path`` names something secret (``sasl_password``, ``token``...)."""
    last = path.rsplit(".", 1)[-1]
    return bool(_SECRET_KEY.search(last))


def redact(path: str, value: Any) -> Any:
    """The value as it may be shown: secrets hidden, URL passwords masked.

    >>> redact("metrics.token", "abc"), redact("clickhouse.url", "clickhouse://u:pw@h:9000/db")
    ('***', 'clickhouse://u:***@h:9000/db')
    """
    if value is None or value == "" or value is MISSING:
        return value
    if isinstance(value, EnvStr):
        return value  # its repr is the ${VAR} reference from the file
    if is_secret_key(path):
        return "***"
    if isinstance(value, str):
        return mask_url_password(value)
    return value


def _userinfo_span(text: str) -> tuple[int, int] | None:
    """(start, end) of ``user:password`` in a URL, or None: it runs from ``scheme://`` to the LAST
    ``@`` before the host, so a password may hold ``@``. A password holding an unencoded ``/``,
    ``?`` or ``#`` ends the authority early for a URL parser: when what follows the ``@`` is no
    ``host[:port]``, the span reaches the last ``@`` of the text, hiding too much rather than too little."""
    scheme = _SCHEME.match(text)
    if scheme is None:
        return None
    start = scheme.end()
    authority_end = next((i for i in range(start, len(text)) if text[i] in "/?#"), len(text))
    at = text.rfind("@", start, authority_end)
    if at < 0 or not _HOST.match(text, at + 1, authority_end):
        at = text.rfind("@", start)
    return (start, at) if at >= 0 else None


def mask_url_password(text: str) -> str:
    """``scheme://user:password@host`` -> ``scheme://user:***@host``; a ``${VAR}`` password is kept.

    >>> mask_url_password("clickhouse://u:pw@h/db"), mask_url_password("clickhouse://u:${PW:-}@h/db")
    ('clickhouse://u:***@h/db', 'clickhouse://u:${PW:-}@h/db')
    >>> mask_url_password("clickhouse://u:p@ss@h:9000/db"), mask_url_password("clickhouse://u:p/s?s@h/db")
    ('clickhouse://u:***@h:9000/db', 'clickhouse://u:***@h/db')
    """
    span = _userinfo_span(text)
    if span is None:
        return text
    start, at = span
    user, colon, password = text[start:at].partition(":")
    if not colon or not password or "${" in password:
        return text
    return f"{text[:start]}{user}:***{text[at:]}"


def redact_url(url: str) -> str:
    """Keep scheme and host, hide credentials, path and query (Slack puts its secret there).

    >>> redact_url("https://hooks.slack.com/services/T0/B0/XYZ"), redact_url("http://u:p@ss@am:9093/x")
    ('https://hooks.slack.com/***', 'http://am:9093/***')
    """
    span = _userinfo_span(url)
    bare = url if span is None else url[:span[0]] + url[span[1] + 1:]
    try:
        parts = urlsplit(bare)
        host, _ = parts.hostname, parts.port
    except ValueError:  # not a URL a client would send to
        return "***"
    if not parts.scheme or not host:
        return "***"
    return f"{parts.scheme}://{parts.netloc}/***"


def show(path: str, value: Any, *, secret: bool = False) -> str:
    """``repr`` of the value for an error line (see the module docstring)."""
    if secret and value not in (None, "", MISSING) and not isinstance(value, EnvStr):
        text = "'***'"
    elif isinstance(value, EnvStr):
        text = repr(mask_url_password(value.template))
    else:
        text = repr(redact(path, value))
    if isinstance(value, EnvStr) and value.unset:
        text += f" ({', '.join(value.unset)} not set)"
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


@dataclass(frozen=True)
class ConfigProblem:
    """One invalid value: where, what it was, what was expected. ``secret`` hides the value."""

    path: str
    value: Any
    expected: str
    secret: bool = False

    def __str__(self) -> str:
        return f"{self.path or '<root>'}: {show(self.path, self.value, secret=self.secret)} is invalid, " \
               f"expected {self.expected}"


class ConfigError(ValueError):
    """One or more config problems; ``str()`` gives one line per problem."""

    retriable = False

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))
