"""Exceptions of the sinks package.

    SinkError
    ├── StoreError            a query or insert failed (retriable: the server may come back)
    │   └── SchemaError       the store's schema is newer than this build (not retriable)
    └── DeliveryError         an alert could not be delivered (see driftline.sinks.alerts)
"""

from __future__ import annotations

__all__ = ["DeliveryError", "SchemaError", "SinkError", "StoreError"]


class SinkError(Exception):
    retriable = False


class StoreError(SinkError):
    retriable = True


class SchemaError(StoreError):
    retriable = False


class DeliveryError(SinkError):
    retriable = True
