"""Exceptions of the sinks package: one root, :class:`SinkError`.

    SinkError
    ├── StoreError              a query or insert failed (retriable: the server may come back)
    │   └── SchemaError         the store's schema is newer than this build (not retriable)
    └── AlertSinkError          alert channels (driftline.sinks.alerts.base draws its subtree)
        ├── ChannelConfigError  a channel cannot be built from its settings
        └── DeliveryError       one delivery attempt failed (retriable or not, per cause)
"""

from __future__ import annotations

__all__ = ["SchemaError", "SinkError", "StoreError"]


class SinkError(Exception):
    """Root of every error raised by :mod:`driftline.sinks`."""

    retriable = False


class StoreError(SinkError):
    retriable = True


class SchemaError(StoreError):
    retriable = False
