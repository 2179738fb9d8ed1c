"""Helpers for the test suite: launchers for the real servers the integration tests talk to."""

from .servers import (
    AlertmanagerServer,
    ClickHouseServer,
    PlannedResponse,
    PrometheusServer,
    RecordedRequest,
    ServerError,
    WebhookReceiver,
    free_port,
    free_ports,
)

__all__ = [
    "AlertmanagerServer",
    "ClickHouseServer",
    "PlannedResponse",
    "PrometheusServer",
    "RecordedRequest",
    "ServerError",
    "WebhookReceiver",
    "free_port",
    "free_ports",
]
