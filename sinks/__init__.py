"""Everything that leaves the process: stores, schema, table rows, writer, checkpoints, Kafka
messages, metrics, alert channels.

``sinks`` knows nothing of Faust: it receives plain result objects and writes them out.
The embedded chdb store is imported on first use (it loads a whole database engine).
"""

from .checkpoints import Checkpoint, CheckpointStore
from .delivery_log import AsyncStoreDeliveryLog, StoreDeliveryLog
from .errors import SchemaError, SinkError, StoreError
from .join_state import load_pending_join
from .messages import KafkaMessage, alert_message, dead_letter_message
from .metrics import WorkerMetrics
from .migrations import Migration, known_migrations, migrate, pending_migrations
from .retention import apply_retention
from .rows import DeadLetterRows, FeedbackRows, PredictionRows, TableRows
from .store import ClickHouseStore, Store, connect_params
from .writer import EventWriter

__all__ = [
    "AsyncStoreDeliveryLog", "Checkpoint", "CheckpointStore", "ClickHouseStore", "DeadLetterRows", "EmbeddedStore", "EventWriter", "FeedbackRows", "KafkaMessage", "Migration", "PredictionRows",
    "SchemaError", "SinkError", "Store", "StoreDeliveryLog", "StoreError", "TableRows",
    "WorkerMetrics", "alert_message", "apply_retention", "connect_params", "dead_letter_message",
    "known_migrations", "load_pending_join", "migrate", "pending_migrations",
]


def __getattr__(name: str):
    if name == "EmbeddedStore":
        from .embedded import EmbeddedStore

        return EmbeddedStore
    raise AttributeError(f"module 'sinks' has no attribute {name!r}")
