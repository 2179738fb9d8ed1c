"""A chdb store holding the sample rows of every table, for tests of what readers get back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from driftline.sinks.embedded import EmbeddedStore
from driftline.sinks.migrations import migrate
from driftline.stream.wiring import build_store

from tests.integration.samples import base_time, insert_samples

__all__ = ["SAMPLE_NOW", "sample_start_s", "sample_store"]

# Fixed, so expected values can be written down; the schema has no TTL, so old rows stay.
SAMPLE_NOW = datetime(2026, 3, 4, 12, 30, tzinfo=UTC)


def sample_start_s(now: datetime = SAMPLE_NOW) -> int:
    """Epoch seconds of the first sample window (samples are hourly from there)."""
    return int(base_time(now).replace(tzinfo=UTC).timestamp())


@contextmanager
def sample_store(directory: Path, now: datetime = SAMPLE_NOW) -> Iterator[EmbeddedStore]:
    """An embedded store in ``directory`` with the schema and the samples of tests/integration/samples.py.

    chdb runs one engine per process: close it (leave the ``with``) before opening another.
    """
    store = build_store(f"chdb://{directory}/store")
    try:
        migrate(store)
        insert_samples(store, now)
        yield store
    finally:
        store.close()
