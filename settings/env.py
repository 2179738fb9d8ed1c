"""``${VAR}`` and ``${VAR:-default}`` in string values, expanded after the YAML is parsed.

Expansion walks the parsed document and rewrites string *values* only: keys and structure
come from the file as written, so an environment value is never YAML. A value holding
``"``, ``:``, ``{``, ``#`` or a newline is taken verbatim, and cannot add a key.

An expanded string is an :class:`EnvStr`: it behaves as the expanded text, but its
``repr`` is the reference written in the file, so an error message or a log line that
shows the value shows ``'${KAFKA_PASSWORD}'``, never the password. The settings objects
hold plain ``str`` copies.

>>> raw = expand_env({"url": "${HOOK}", "n": 3, "${HOOK}": "x"}, {"HOOK": 'a"b: {c} # d'})
>>> raw["url"] == 'a"b: {c} # d', repr(raw["url"]), sorted(raw)
(True, "'${HOOK}'", ['${HOOK}', 'n', 'url'])
>>> unset = expand_env("${UNSET}", {})
>>> str(expand_env("${UNSET:-fallback}", {})), str(unset), unset.unset
('fallback', '', ('UNSET',))
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["EnvStr", "expand_env", "plain"]

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class EnvStr(str):
    """A string with environment references expanded; its ``repr`` is the file's text."""

    template: str
    unset: tuple[str, ...]

    def __new__(cls, value: str, template: str, unset: tuple[str, ...] = ()) -> EnvStr:
        obj = super().__new__(cls, value)
        obj.template = template
        obj.unset = unset
        return obj

    def __repr__(self) -> str:
        return repr(self.template)

    def __reduce__(self):  # never pickle the expanded text under this type
        return (str, (str(self),))


def _expand(text: str, environ: Mapping[str, str]) -> str:
    if "${" not in text:
        return text
    unset: list[str] = []

    def value(match: re.Match) -> str:
        name, default = match.group(1), match.group(2)
        found = environ.get(name)
        if found:
            return found
        if default is None and found is None:
            unset.append(name)
        return default or ""

    return EnvStr(_REFERENCE.sub(value, text), text, tuple(unset))


def expand_env(raw: Any, environ: Mapping[str, str]) -> Any:
    """A copy of ``raw`` (as ``yaml.safe_load`` returns it) with references in string values expanded.

    ``${VAR:-default}`` gives ``default`` when VAR is unset or empty; an unset ``${VAR}`` gives ``''``.
    """
    if isinstance(raw, str):
        return _expand(raw, environ)
    if isinstance(raw, Mapping):
        return {key: expand_env(value, environ) for key, value in raw.items()}
    if isinstance(raw, list):
        return [expand_env(item, environ) for item in raw]
    return raw


def plain(raw: Any) -> Any:
    """A copy of ``raw`` with every :class:`EnvStr` a plain ``str``, for settings that keep a mapping."""
    if isinstance(raw, str):
        return str(raw)
    if isinstance(raw, Mapping):
        return {key: plain(value) for key, value in raw.items()}
    if isinstance(raw, list):
        return [plain(item) for item in raw]
    return raw
