"""Session-wide real servers. Each starts on first request only, so unit tests start nothing."""

from __future__ import annotations

import pytest
from driftline.demo import EmbeddedBroker

from tests.support.servers import ClickHouseCluster, ClickHouseServer, WebhookReceiver


@pytest.fixture(scope="session")
def broker(tmp_path_factory):
    """An in-memory Tansu broker for the session. Tests create their own topics."""
    with EmbeddedBroker(log_dir=tmp_path_factory.mktemp("tansu")) as running:
        yield running


@pytest.fixture(scope="session")
def clickhouse(tmp_path_factory):
    """ClickHouse 18.16 for the session; a test that stops it must start it again."""
    with ClickHouseServer(tmp_path_factory.mktemp("clickhouse")) as server:
        yield server


@pytest.fixture(scope="session")
def clickhouse_cluster(tmp_path_factory):
    """2 shards x 2 replicas of ClickHouse 18.16 and a ZooKeeper, for the session; a test that
    stops a replica must start it again."""
    with ClickHouseCluster(tmp_path_factory.mktemp("clickhouse-cluster")) as cluster:
        yield cluster


@pytest.fixture
def webhook_receiver():
    with WebhookReceiver() as receiver:
        yield receiver


# The suite's longest tests (worker subprocesses on real servers, then in-process streams) are
# handed out first: xdist gives the next test to whichever worker is free, so long tests taken
# last leave the other workers idle at the end of the run.
_FIRST = ("faults", "integration", "stream")


def pytest_collection_modifyitems(config, items):
    def rank(item) -> int:
        parts = item.path.relative_to(config.rootpath).parts
        return _FIRST.index(parts[1]) if len(parts) > 2 and parts[1] in _FIRST else len(_FIRST)

    items.sort(key=rank)  # stable: the order within a group stays the collection's
