"""Alert delivery: channels (Kafka, Slack, PagerDuty, webhooks, Alertmanager) and the dispatcher.

The engine in ``driftline.alerting`` decides *what* to say; this package says
it. Channels render an :class:`~driftline.alerting.Alert` to a request (pure);
:class:`AlertDispatcher` queues, sends, retries and logs the outcome.
"""

from driftline.sinks.alerts.alertmanager import AlertmanagerChannel, AlertmanagerConfig
from driftline.sinks.alerts.base import (
    AlertSinkError,
    ChannelConfigError,
    ChannelFilter,
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
    parse_channel_configs,
)
from driftline.sinks.alerts.delivery import (
    AlertDispatcher,
    DeliveryLog,
    DeliveryRecord,
    MemoryDeliveryLog,
)
from driftline.sinks.alerts.kafka import KafkaChannel, KafkaChannelConfig
from driftline.sinks.alerts.pagerduty import PagerDutyChannel, PagerDutyConfig
from driftline.sinks.alerts.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify
from driftline.sinks.alerts.slack import SlackChannel, SlackConfig
from driftline.sinks.alerts.webhook import WebhookChannel, WebhookConfig

__all__ = [
    "CHANNEL_TYPES",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "AlertChannel",
    "AlertDispatcher",
    "AlertSinkError",
    "AlertmanagerChannel",
    "AlertmanagerConfig",
    "BlockingChannel",
    "ChannelConfigError",
    "ChannelFilter",
    "DeliveryError",
    "DeliveryLog",
    "DeliveryRecord",
    "HttpChannel",
    "HttpRequest",
    "HttpStatusError",
    "KafkaChannel",
    "KafkaChannelConfig",
    "KafkaDeliveryError",
    "MemoryDeliveryLog",
    "PagerDutyChannel",
    "PagerDutyConfig",
    "SlackChannel",
    "SlackConfig",
    "TransportError",
    "WebhookChannel",
    "WebhookConfig",
    "build_channels",
    "parse_channel_configs",
    "sign",
    "verify",
]
