"""HMAC-SHA256 signatures for webhook requests, version 2.

``X-Driftline-Signature: v2=<hex>`` where the MAC covers
``f"{timestamp}.{idempotency_key}.".encode() + body``: the integer Unix time sent in
``X-Driftline-Timestamp``, the ``Idempotency-Key`` header (the alert id: hex, no dot) and
the raw body. Binding the timestamp stops replays (the receiver rejects signatures older
than a tolerance, 5 minutes by default); binding the key stops a captured request from
being replayed under a new key to get past the receiver's deduplication.

Version 1 (``sha256=``, timestamp and body only) is not sent any more: a receiver still
checking it rejects every request (fails closed) until it checks ``v2=``.

>>> sig = sign("s3cret", 1700000000, "a1", b'{"a":1}')
>>> sig
'v2=c0840e4538bd45b865aae95bb13c33e5de61c182e9c3ab87f59d78dbae76cfdc'
>>> verify("s3cret", "1700000000", "a1", b'{"a":1}', sig, now=1700000100)
True
>>> verify("s3cret", "1700000000", "a2", b'{"a":1}', sig, now=1700000100)  # another key
False
>>> verify("s3cret", "1700000000", "a1", b'{"a":2}', sig, now=1700000100)  # another body
False
>>> verify("s3cret", "1700000000", "a1", b'{"a":1}', sig, now=1700009999)  # too old
False
"""

from __future__ import annotations

import hashlib
import hmac
import time

__all__ = ["IDEMPOTENCY_HEADER", "SIGNATURE_HEADER", "SIGNATURE_VERSION", "TIMESTAMP_HEADER", "sign",
           "signed_bytes", "verify"]

SIGNATURE_HEADER = "X-Driftline-Signature"
TIMESTAMP_HEADER = "X-Driftline-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
SIGNATURE_VERSION = "v2"


def _key(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def signed_bytes(timestamp: int, idempotency_key: str, body: bytes) -> bytes:
    """What the MAC covers: ``<timestamp>.<idempotency key>.<body>``."""
    if "." in idempotency_key:
        raise ValueError(f"idempotency_key must not contain '.', got {idempotency_key!r}")
    return f"{int(timestamp)}.{idempotency_key}.".encode() + body


def sign(secret: str | bytes, timestamp: int, idempotency_key: str, body: bytes) -> str:
    """The ``X-Driftline-Signature`` value for ``body`` sent at ``timestamp`` with ``idempotency_key``."""
    mac = hmac.new(_key(secret), signed_bytes(timestamp, idempotency_key, body), hashlib.sha256)
    return f"{SIGNATURE_VERSION}={mac.hexdigest()}"


def verify(secret: str | bytes, timestamp: str | int, idempotency_key: str, body: bytes, signature: str, *,
           now: float | None = None, tolerance_s: float = 300) -> bool:
    """Receiver side: constant-time check of the signature and freshness of the timestamp."""
    try:
        ts = int(timestamp)
        expected = sign(secret, ts, idempotency_key, body)
    except (TypeError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance_s:
        return False
    return hmac.compare_digest(expected, signature)
