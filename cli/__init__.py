"""The ``driftline`` command line: run, check-config, migrate, topics, baseline, replay, retention, demo."""

from .entry import run
from .main import main

__all__ = ["main", "run"]
