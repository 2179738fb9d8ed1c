"""A local, in-memory Kafka-compatible broker for ``driftline demo`` and tests."""

from .broker import (
    BrokerStartError,
    EmbeddedBroker,
    EmbeddedBrokerError,
    TopicError,
    count_records,
    port_is_free,
)

__all__ = ["BrokerStartError", "EmbeddedBroker", "EmbeddedBrokerError", "TopicError", "count_records", "port_is_free"]
