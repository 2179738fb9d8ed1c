"""Alert delivery: channels (Kafka, Slack, PagerDuty, webhooks, Alertmanager) and the dispatcher.

The engine in ``driftline.alerting`` decides *what* to say; this package says
it. Channels are built from typed settings (:mod:`driftline.settings.channels`) and render
an :class:`~driftline.alerting.Alert` to a request (pure); :class:`AlertDispatcher` queues,
sends, retries and logs the outcome.
"""

from driftline.sinks.alerts.alertmanager import AlertmanagerChannel
from driftline.sinks.alerts.base import (
    AlertSinkError,
    ChannelConfigError,
    DeliveryError,
    HttpRequest,
    HttpStatusError,
    KafkaDeliveryError,
    TransportError,
)
from driftline.sinks.alerts.channels import (
    CHANNEL_TYPES,
    AlertChannel,
    BlockingChannel,
    HttpChannel,
    build_channels,
)
from driftline.sinks.alerts.delivery import (
    AlertDispatcher,
    DeliveryLog,
    DeliveryRecord,
    MemoryDeliveryLog,
)
from driftline.sinks.alerts.kafka import KafkaChannel
from driftline.sinks.alerts.pagerduty import PagerDutyChannel
from driftline.sinks.alerts.signing import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
    verify,
)
from driftline.sinks.alerts.slack import SlackChannel
from driftline.sinks.alerts.webhook import WebhookChannel

__all__ = [
    "CHANNEL_TYPES",
    "IDEMPOTENCY_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "AlertChannel",
    "AlertDispatcher",
    "AlertSinkError",
    "AlertmanagerChannel",
    "BlockingChannel",
    "ChannelConfigError",
    "DeliveryError",
    "DeliveryLog",
    "DeliveryRecord",
    "HttpChannel",
    "HttpRequest",
    "HttpStatusError",
    "KafkaChannel",
    "KafkaDeliveryError",
    "MemoryDeliveryLog",
    "PagerDutyChannel",
    "SlackChannel",
    "TransportError",
    "WebhookChannel",
    "build_channels",
    "sign",
    "verify",
]
