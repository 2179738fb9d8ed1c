"""Alerting: the policy layer between detection and delivery.

Window reports come in from the worker; :class:`AlertEngine` applies the
:class:`AlertRule` set (conditions, ``for_windows``, cooldown, resolve) and returns
:class:`Alert` state changes. Pure: it sends nothing and reads no clock. Delivery
lives in :mod:`driftline.sinks.alerts`.

Modules: ``payload`` (the v1 alert contract), ``rules`` (rule parsing and the
conditions per alert kind), ``engine`` (the state machine), ``errors``.
"""

from .engine import AlertEngine
from .errors import AlertingError, RuleConfigError
from .payload import SCHEMA, Alert, FeatureEvidence, alert_id, rfc3339
from .rules import ACTIONS, DEFAULT_RULES, KINDS, SEVERITIES, AlertRule, parse_rules, severity_rank

__all__ = [
    "ACTIONS", "DEFAULT_RULES", "KINDS", "SCHEMA", "SEVERITIES", "Alert", "AlertEngine", "AlertRule",
    "AlertingError", "FeatureEvidence", "RuleConfigError", "alert_id", "parse_rules", "rfc3339", "severity_rank",
]
