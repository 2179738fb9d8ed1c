"""Exceptions of the sinks package: one root, :class:`SinkError`.

    SinkError
    ├── StoreError              a query or insert failed (retriable: the server may come back)
    │   ├── StoreRejected       the store refuses these rows or this batch (not retriable: the
    │   │                       same rows fail again); the writer isolates and dead-letters them
    │   └── SchemaError         the store's schema is newer than this build (not retriable)
    └── AlertSinkError          alert channels (driftline.sinks.alerts.base draws its subtree)
        ├── ChannelConfigError  a channel cannot be built from its settings
        └── DeliveryError       one delivery attempt failed (retriable or not, per cause)

Which store errors are the data's fault is decided in :mod:`driftline.sinks.store_errors`.
"""

from __future__ import annotations

__all__ = ["SchemaError", "SinkError", "StoreError", "StoreRejected"]


class SinkError(Exception):
    """Root of every error raised by :mod:`driftline.sinks`."""

    retriable = False


class StoreError(SinkError):
    retriable = True


class StoreRejected(StoreError):
    """The store refuses the rows of an insert: a value it cannot hold, a batch it will not take.

    ``code`` is the ClickHouse error code (None for an error found while encoding the batch);
    ``too_many_partitions`` says the batch as a whole spans too many partitions, so smaller
    batches of the same rows are accepted.
    """

    retriable = False

    def __init__(self, message: str, *, code: int | None = None, too_many_partitions: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.too_many_partitions = too_many_partitions


class SchemaError(StoreError):
    retriable = False
