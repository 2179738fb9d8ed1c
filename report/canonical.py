"""Canonical JSON and the hashes a dossier is identified by.

The same content gives the same bytes: keys in insertion order (built in a fixed order by
:mod:`~driftline.report.sections`), numbers rounded to 6 significant digits, no NaN or infinity
(``null``), UTF-8. The content hash is the SHA-256 of those bytes; the config hash covers the
settings with every secret redacted (secret-looking keys, URL passwords, the URLs of alert
channels, which are secrets for Slack and PagerDuty); the profile hash covers the reference
profile's ``to_dict()``.

>>> canonical_json({"b": 1.23456789, "a": [float("nan"), 2]})
b'{"b":1.23457,"a":[null,2]}'
>>> sha256_hex(canonical_json({"a": 1}))[:12]
'015abd7f5cc5'
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from driftline.settings import Settings, redact
from driftline.settings.env import EnvStr

__all__ = ["canonical_json", "config_hash", "iso", "num", "plain", "profile_hash", "sha256_hex"]


def num(x: float | int | None, digits: int = 6) -> float | int | None:
    """``x`` as written into a dossier: ints as they are, floats to ``digits`` significant digits,
    None for missing, NaN and infinities."""
    if x is None or isinstance(x, bool):
        return x
    if isinstance(x, int):
        return x
    x = float(x)
    if not math.isfinite(x):
        return None
    rounded = float(f"{x:.{digits}g}")
    return 0.0 if rounded == 0 else rounded  # no "-0.0"


def plain(value: Any) -> Any:
    """JSON-ready: mappings, sequences, strings, rounded numbers; dataclasses as mappings of their fields."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((plain(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, float | int) or value is None:
        return num(value)
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return plain(value.tolist())
    return str(value)


def canonical_json(content: Any) -> bytes:
    return json.dumps(plain(content), ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _redacted(value: Any, path: str) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _redacted(getattr(value, f.name), f"{path}.{f.name}") for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _redacted(v, f"{path}.{k}") for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, set | frozenset):  # ordered by value, not by this process's string hashes
        return sorted((_redacted(v, path) for v in value), key=lambda v: json.dumps(v, sort_keys=True, default=str))
    if isinstance(value, list | tuple):
        return [_redacted(v, path) for v in value]
    if isinstance(value, EnvStr):
        return repr(value)  # the ${VAR} reference, not what the environment holds
    if path.startswith(".alert_channels") and path.endswith(".url") and value:
        return "***"
    return redact(path.lstrip("."), value)


def config_hash(settings: Settings) -> str:
    """SHA-256 of the canonical JSON of ``settings`` with its secrets redacted."""
    return sha256_hex(canonical_json(_redacted(settings, "")))


def profile_hash(profile_dict: Mapping[str, Any]) -> str:
    """SHA-256 of a reference profile's ``to_dict()`` (numbers as they are, not rounded)."""
    return sha256_hex(json.dumps(profile_dict, sort_keys=True, separators=(",", ":")).encode())


def iso(epoch_s: int | None) -> str | None:
    """``2026-03-04T12:00:00Z`` (UTC), None for 0 or None: the one way a dossier writes a time.

    >>> iso(0), iso(1772625600)
    (None, '2026-03-04T12:00:00Z')
    """
    if not epoch_s:
        return None
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
