"""``kafka:``: the brokers, topics, consumer limits and client security.

``kafka.security`` is typed and mapped to librdkafka properties by
:meth:`KafkaSecurity.client_properties`; ``kafka.options`` is any other librdkafka
setting, passed verbatim on top. Passwords stay out of every repr.

>>> from driftline.settings.reader import Reader
>>> r = Reader()
>>> k = parse_kafka(r, {"bootstrap_servers": "b:9092", "security": {"protocol": "SASL_SSL",
...     "sasl_mechanism": "PLAIN", "sasl_username": "u", "sasl_password": "pw"}})
>>> r.problems, k.security.client_properties()["sasl.username"], "pw" in repr(k)
([], 'u', False)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import MISSING
from .reader import Reader, join

__all__ = ["SASL_MECHANISMS", "SECURITY_PROTOCOLS", "KafkaSecurity", "KafkaSettings", "parse_kafka"]

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
# kafka.security key -> librdkafka property
SECURITY_PROPERTIES = {
    "protocol": "security.protocol",
    "sasl_mechanism": "sasl.mechanism",
    "sasl_username": "sasl.username",
    "sasl_password": "sasl.password",
    "ssl_ca_location": "ssl.ca.location",
    "ssl_certificate_location": "ssl.certificate.location",
    "ssl_key_location": "ssl.key.location",
    "ssl_key_password": "ssl.key.password",
}
_KEYS = ("bootstrap_servers", "group_id", "topics", "batch_size", "poll_timeout", "session_timeout",
         "max_message_bytes", "security", "options")
_TOPICS = ("predictions", "feedback", "alerts", "dead_letter", "partials", "join")
# Files librdkafka reads: resolved from the config file's directory like every file the config names.
_FILES = ("ssl_ca_location", "ssl_certificate_location", "ssl_key_location")


@dataclass(frozen=True)
class KafkaSecurity:
    """``kafka.security``; ``None`` leaves the librdkafka default."""

    protocol: str | None = None
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_ca_location: str | None = None
    ssl_certificate_location: str | None = None
    ssl_key_location: str | None = None
    ssl_key_password: str | None = field(default=None, repr=False)

    def client_properties(self) -> dict[str, str]:
        """The librdkafka properties of the keys that are set."""
        return {prop: getattr(self, key) for key, prop in SECURITY_PROPERTIES.items()
                if getattr(self, key) is not None}


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap_servers: str = "127.0.0.1:9092"
    group_id: str = "driftline"
    predictions_topic: str = "driftline.predictions"
    feedback_topic: str = "driftline.feedback"
    alerts_topic: str = "driftline.alerts"
    dead_letter_topic: str = "driftline.dead-letter"
    partials_topic: str = "driftline.partials"  # stage 1 -> stage 2 (worker.aggregation: two_stage)
    join_topic: str = "driftline.join"  # join records by event id (worker.aggregation: two_stage)
    batch_size: int = 10_000
    poll_timeout_s: float = 0.05
    session_timeout_ms: int = 10_000
    max_message_bytes: int = 1_048_576
    security: KafkaSecurity = field(default_factory=KafkaSecurity)
    # ``kafka.options``, passed verbatim to librdkafka (may hold credentials: not in repr).
    client_options: Mapping[str, str] = field(default_factory=dict, repr=False)


def parse_kafka(r: Reader, raw: Any, path: str = "kafka") -> KafkaSettings:
    k = r.mapping(raw, path, keys=_KEYS)
    topics = r.section(k, "topics", path, keys=_TOPICS)
    where = join(path, "topics")
    d = KafkaSettings
    return KafkaSettings(
        bootstrap_servers=r.string(k, "bootstrap_servers", path, d.bootstrap_servers),
        group_id=r.string(k, "group_id", path, d.group_id),
        predictions_topic=r.string(topics, "predictions", where, d.predictions_topic),
        feedback_topic=r.string(topics, "feedback", where, d.feedback_topic),
        alerts_topic=r.string(topics, "alerts", where, d.alerts_topic),
        dead_letter_topic=r.string(topics, "dead_letter", where, d.dead_letter_topic),
        partials_topic=r.string(topics, "partials", where, d.partials_topic),
        join_topic=r.string(topics, "join", where, d.join_topic),
        batch_size=r.integer(k, "batch_size", path, d.batch_size, low=1, high=1_000_000),
        poll_timeout_s=r.duration_ms(k, "poll_timeout", path, 50) / 1000,
        session_timeout_ms=r.duration_ms(k, "session_timeout", path, d.session_timeout_ms),
        max_message_bytes=r.integer(k, "max_message_bytes", path, d.max_message_bytes, low=1024),
        security=parse_security(r, k.get("security"), join(path, "security")),
        client_options=r.string_map(k, "options", path, scalars=True),
    )


def parse_security(r: Reader, raw: Any, path: str) -> KafkaSecurity:
    """SASL needs a mechanism, a username and a password; secrets come as ``${VAR}``."""
    s = r.mapping(raw, path, keys=tuple(SECURITY_PROPERTIES))
    values = {key: r.file(s, key, path) if key in _FILES else r.string(s, key, path, secret=True)
              for key in SECURITY_PROPERTIES if key in s}
    security = KafkaSecurity(**values)
    protocol = (security.protocol or "PLAINTEXT").upper()
    if protocol not in SECURITY_PROTOCOLS:
        r.problem(join(path, "protocol"), s.get("protocol"), "one of: " + ", ".join(SECURITY_PROTOCOLS))
    if security.sasl_mechanism is not None and security.sasl_mechanism.upper() not in SASL_MECHANISMS:
        r.problem(join(path, "sasl_mechanism"), s.get("sasl_mechanism"), "one of: " + ", ".join(SASL_MECHANISMS))
    if protocol.startswith("SASL"):
        for key in ("sasl_mechanism", "sasl_username", "sasl_password"):
            if getattr(security, key) is None and not _reported(r, join(path, key)):
                r.problem(join(path, key), s.get(key, MISSING), f"a value when protocol is {security.protocol}",
                          secret=True)
    return security


def _reported(r: Reader, path: str) -> bool:
    return any(p.path == path for p in r.problems)
