"""The ``driftline`` command line: run, check-config, migrate, retention, baseline, demo."""

from .entry import run
from .main import main

__all__ = ["main", "run"]
