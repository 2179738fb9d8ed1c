"""Session-wide real servers. Each starts on first request only, so unit tests start nothing."""

from __future__ import annotations

import pytest
from driftline.demo import EmbeddedBroker

from tests.support.servers import ClickHouseServer, WebhookReceiver


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


@pytest.fixture
def webhook_receiver():
    with WebhookReceiver() as receiver:
        yield receiver
