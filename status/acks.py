"""Acknowledging an action: ``POST /api/versions/{model}/{version}`` sets a version's lifecycle state.

A ``rollback`` or ``promote`` action webhook tells a deployment system what to do; once it has
done it, it acknowledges here, and the version's state (``model_versions``) records who did
what and why. The worker adopts the change within seconds, and a ``rolled_back`` or
``deactivated`` version that keeps receiving predictions raises ``rollback_not_effective``.
``driftline versions --config F set ...`` does the same from a shell.

    POST /api/versions/credit/v2
    Authorization: Bearer <metrics.token>
    {"state": "rolled_back", "reason": "canary removed from the router",
     "alert_id": "<the alert's alert_id>", "by": "argo-rollouts"}

The endpoint changes state, so it needs ``metrics.token`` to be set and the bearer token in the
request (compared in constant time); a browser session is not enough. Without a token in the
config it answers 403. ``changed_by`` becomes ``webhook:<by>`` (``ack`` when not given), with
``/<alert_id>`` when given. Answers: 200 with the recorded state, 400 for a bad body, 401 without
the token, 404 for a model not configured, 503 when the store cannot be written.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time

from driftline.sinks.errors import StoreError
from driftline.sinks.lifecycle import STATES, set_version_state
from faust import web as faust_web

__all__ = ["MAX_TEXT", "parse_ack", "register_acknowledgements"]

log = logging.getLogger("driftline.status")
MAX_TEXT = 500


class AckError(ValueError):
    """A request body that is not an acknowledgement."""


def parse_ack(body: object) -> tuple[str, str, str]:
    """``(state, reason, changed_by)`` of a request body; :class:`AckError` naming what is wrong.

    >>> parse_ack({"state": "rolled_back", "reason": "done", "alert_id": "a1", "by": "argo"})
    ('rolled_back', 'done', 'webhook:argo/a1')
    >>> parse_ack({"state": "gone"})
    Traceback (most recent call last):
    ...
    driftline.status.acks.AckError: state: 'gone' is invalid, expected one of: active, canary, shadow, promoted, rolled_back, deactivated
    """
    if not isinstance(body, dict):
        raise AckError("body: expected a JSON object with state, reason, alert_id, by")
    state = body.get("state")
    if state not in STATES:
        raise AckError(f"state: {str(state)[:40]!r} is invalid, expected one of: {', '.join(STATES)}")
    texts = {}
    for key in ("reason", "alert_id", "by"):
        value = body.get(key, "")
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            raise AckError(f"{key}: expected a string of at most {MAX_TEXT} characters")
        texts[key] = value
    changed_by = "webhook:" + (texts["by"] or "ack") + (f"/{texts['alert_id']}" if texts["alert_id"] else "")
    return state, texts["reason"] or "acknowledged action", changed_by


def register_acknowledgements(app, runtime) -> None:
    """Add ``POST /api/versions/{model}/{version}`` to a Faust ``app`` whose worker runs ``runtime``."""

    def authorised(request) -> bool:
        token = runtime.settings.metrics.token
        given = request.headers.get("Authorization", "")
        return bool(token) and hmac.compare_digest(given.encode(), f"Bearer {token}".encode())

    @app.page("/api/versions/{model}/{version}")
    class VersionAcknowledgement(faust_web.View):
        async def post(self, request, model: str, version: str):
            if not runtime.settings.metrics.token:
                return self.json({"error": "acknowledgements need metrics.token: set it, and send "
                                           "Authorization: Bearer <token>"}, status=403)
            if not authorised(request):
                return self.json({"error": "send Authorization: Bearer <metrics.token>"}, status=401)
            if runtime.settings.model(model) is None:
                return self.json({"error": f"unknown model {model[:100]!r}"}, status=404)
            if not version or len(version) > 128:
                return self.json({"error": "version: expected 1 to 128 characters"}, status=400)
            try:
                state, reason, changed_by = parse_ack(await request.json())
            except (AckError, ValueError) as exc:
                return self.json({"error": str(exc)}, status=400)
            store = runtime.read_store
            if store is None:
                return self.json({"error": "the worker is starting"}, status=503)
            try:
                record = await asyncio.get_running_loop().run_in_executor(
                    None, lambda: set_version_state(store, model, version, state, reason=reason,
                                                    changed_by=changed_by, now_s=int(time.time())))
            except StoreError as exc:
                log.warning("acknowledgement not recorded: %s", exc)
                return self.json({"error": "store write failed", "detail": str(exc)[:500]}, status=503)
            log.info("%s/%s set %s by %s: %s", model, version, state, changed_by, reason)
            return self.json({"model": model, "version": version, "state": record.state, "reason": record.reason,
                              "changed_by": record.changed_by, "changed_at_ms": record.changed_at_ms})
