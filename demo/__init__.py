"""``driftline demo``: the bundled broker, the scenario generator and the live terminal view.

Everything here uses the worker (:mod:`driftline.stream`); the worker never imports it.
"""

from .broker import (
    BrokerStartError,
    EmbeddedBroker,
    EmbeddedBrokerError,
    TopicError,
    port_is_free,
)

__all__ = ["BrokerStartError", "EmbeddedBroker", "EmbeddedBrokerError", "TopicError", "port_is_free"]
