"""HMAC-SHA256 signatures for webhook bodies.

One scheme: ``X-Driftline-Signature: sha256=<hex>`` where the MAC covers
``f"{timestamp}.".encode() + body`` and ``timestamp`` is the integer Unix time
sent in ``X-Driftline-Timestamp``. Binding the timestamp stops replays; the
receiver rejects signatures older than a tolerance (5 minutes by default).

>>> sig = sign("s3cret", 1700000000, b'{"a":1}')
>>> sig
'sha256=1698a50bc74d1ff1db85c4e0a5297c2ad9fdba245d5737cdb789e4cc6e098940'
>>> verify("s3cret", "1700000000", b'{"a":1}', sig, now=1700000100)
True
>>> verify("s3cret", "1700000000", b'{"a":2}', sig, now=1700000100)
False
>>> verify("s3cret", "1700000000", b'{"a":1}', sig, now=1700009999)
False
"""

from __future__ import annotations

import hashlib
import hmac
import time

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "sign", "verify"]

SIGNATURE_HEADER = "X-Driftline-Signature"
TIMESTAMP_HEADER = "X-Driftline-Timestamp"


def _key(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def sign(secret: str | bytes, timestamp: int, body: bytes) -> str:
    """The ``X-Driftline-Signature`` value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(_key(secret), f"{int(timestamp)}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify(secret: str | bytes, timestamp: str | int, body: bytes, signature: str, *,
           now: float | None = None, tolerance_s: float = 300) -> bool:
    """Receiver side: constant-time check of signature and freshness."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature)
