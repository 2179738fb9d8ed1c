"""The governance dossier on demand: ``GET /report/{model}``, linked from each model of the status page.

    GET /report/credit?version=v2&from=2026-03-01&to=2026-04-01[&format=json]

Answers the self-contained HTML of :mod:`driftline.report` (or its JSON with ``format=json``) for
the model, one version or all (``version`` empty), over the period (ISO dates or times, UTC;
without them every stored window of the model). Behind the same access as the page: with
``metrics.token`` set, a bearer token or the browser session of ``/login``. Answers 400 for a bad
time, 404 for a model not configured or with no stored window, 503 when the store fails. The
reference profile of a model with ``reference.profile`` comes from the worker's runtime.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import UTC, datetime

from driftline.detectors import ReferenceProfile
from driftline.report import ReportError, build_dossier, render_html
from driftline.sinks.errors import StoreError

__all__ = ["register_reports"]

log = logging.getLogger("driftline.status")


def _time(text: str | None) -> int | None:
    if not text:
        return None
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp())


def register_reports(app, runtime, lock: threading.Lock) -> None:
    """Add ``/report/{model}`` to a Faust ``app``; ``lock`` serializes it with the page's other reads."""

    @app.page("/report/{model}")
    async def status_report(web, request, model: str):
        if runtime.settings.model(model) is None:
            return web.json({"error": f"unknown model {model!r}"}, status=404)
        store = runtime.read_store
        if store is None:
            return web.json({"error": "the worker is starting"}, status=503)
        try:
            since_s, until_s = _time(request.query.get("from")), _time(request.query.get("to"))
        except ValueError:
            return web.json({"error": "from/to: expected an ISO date or time such as 2026-03-04T12:00:00Z"},
                            status=400)
        version = request.query.get("version") or None
        spec = runtime.settings.model(model)

        def build():
            # A profile file is read per request (small); a dataset reference would be profiled, so it is not.
            profile = ReferenceProfile.load(spec.reference_profile) if spec.reference_profile else None
            with lock:
                return build_dossier(store, runtime.settings, model, version=version, since_s=since_s,
                                     until_s=until_s, profile=profile)

        try:
            dossier = await asyncio.get_running_loop().run_in_executor(None, build)
        except ReportError as exc:
            return web.json({"error": str(exc)}, status=404)
        except (OSError, ValueError) as exc:  # the profile file
            return web.json({"error": f"cannot read the reference profile: {exc}"}, status=503)
        except StoreError as exc:
            log.warning("dossier query failed: %s", exc)
            return web.json({"error": "store query failed", "detail": str(exc)[:500]}, status=503)
        headers = {"Cache-Control": "no-store", "X-Content-SHA256": dossier.content_sha256}
        if request.query.get("format") == "json":
            return web.bytes(dossier.to_json(), content_type="application/json", headers=headers)
        return web.bytes(render_html(dossier), content_type="text/html", headers=headers)
