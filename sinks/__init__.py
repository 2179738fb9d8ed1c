"""Everything that leaves the process: stores, schema, writer, metrics, alert channels.

``sinks`` knows nothing of Faust: it receives plain result objects and writes them out.
The embedded chdb store is imported on first use (it loads a whole database engine).
"""

from .delivery_log import AsyncStoreDeliveryLog, StoreDeliveryLog
from .errors import DeliveryError, SchemaError, SinkError, StoreError
from .metrics import WorkerMetrics
from .migrations import Migration, known_migrations, migrate, pending_migrations
from .retention import apply_retention
from .store import ClickHouseStore, Store, connect_params
from .writer import EventWriter

__all__ = [
    "AsyncStoreDeliveryLog", "ClickHouseStore", "DeliveryError", "EmbeddedStore", "EventWriter",
    "Migration", "SchemaError", "SinkError", "Store", "StoreDeliveryLog", "StoreError",
    "WorkerMetrics", "apply_retention", "connect_params", "known_migrations", "migrate", "pending_migrations",
]


def __getattr__(name: str):
    if name == "EmbeddedStore":
        from .embedded import EmbeddedStore

        return EmbeddedStore
    raise AttributeError(f"module 'sinks' has no attribute {name!r}")
