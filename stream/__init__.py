"""The driftline worker: Faust application shell, batch ingest loop, windows and wiring.

``stream`` is the only package that knows detectors and sinks; :mod:`driftline.stream.wiring` is the
only module that builds concrete clients. The Faust app is imported on first use.
"""

from .errors import DriftlineError, WorkerError
from .events import DeadLetter, EventDecoder, FeedbackEvent, PredictionEvent
from .join import LabelJoin
from .monitor import ModelMonitor
from .processor import BatchOutput, PartitionState, Processor

__all__ = [
    "BatchOutput", "DeadLetter", "DriftlineError", "EventDecoder", "FeedbackEvent", "LabelJoin", "ModelMonitor",
    "PartitionState", "PredictionEvent", "Processor", "WorkerError", "create_app",
]


def __getattr__(name: str):
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(f"module 'stream' has no attribute {name!r}")
