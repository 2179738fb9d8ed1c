"""Alerting: the policy layer between detection and delivery.

Window reports come in from the worker; :class:`AlertEngine` applies the
:class:`AlertRule` set (conditions, ``for_windows``, cooldown, resolve) and returns
:class:`Alert` state changes. Pure: it sends nothing and reads no clock. Delivery
lives in :mod:`driftline.sinks.alerts`.

Rules arrive typed from :mod:`driftline.settings` (``alerts.rules``); :func:`build_rules` turns
them into rules with their condition objects. Modules: ``payload`` (the v1 alert contract),
``rules`` (the conditions per alert kind and the default rules), ``experiment_rules`` (experiment
verdicts and ineffective rollbacks), ``findings``, ``engine`` (the state machine), ``errors``.
"""

from .engine import AlertEngine
from .errors import AlertingError
from .payload import SCHEMA, Alert, FeatureEvidence, alert_id, rfc3339
from .rules import DEFAULT_RULES, AlertRule, build_rules, lifecycle_rules, severity_rank

__all__ = [
    "DEFAULT_RULES", "SCHEMA", "Alert", "AlertEngine", "AlertRule", "AlertingError", "FeatureEvidence",
    "alert_id", "build_rules", "lifecycle_rules", "rfc3339", "severity_rank",
]
