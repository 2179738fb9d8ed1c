"""The status page: HTML, its static assets and a small JSON API, served by the worker's Faust web server.

Routes (``register_status_pages(app, runtime)`` adds them)::

    /                                   the page (status/static/index.html)
    /static/{name}                      its JS and CSS (no CDN: works offline)
    /api/models                         models, versions and their state: ok / drifting / alerting
    /api/models/{model}/drift           ?version=&windows=30  drift score per feature per window
    /api/models/{model}/performance     ?windows=60  accuracy/F1/AUC or MAE/RMSE and label coverage per version
    /api/models/{model}/latency         ?windows=60  p50/p95/p99 per window and version
    /api/models/{model}/experiments     ?windows=60  champion vs challenger: verdicts, intervals, lifecycle
    /api/models/{model}/segments        ?windows=30  segment groups worst first, a small multiple per metric;
                                        the latest fairness results
    /api/alerts                         ?limit=50&model=  recent alerts with their evidence
    POST /api/versions/{model}/{version}  acknowledge an action: set the version's lifecycle state
                                        (bearer token only; see :mod:`driftline.status.acks`)
    /report/{model}                     ?version=&from=&to=&format=json  the governance dossier, made on
                                        demand (see :mod:`driftline.status.reports`)

Every ``/api`` route takes ``?range=`` (a duration such as ``6h`` or ``7d``; default 24 h, at
most 31 days): what it reports happened in that range, and each of its reads has a row limit
(see :mod:`driftline.status.api`). With ``metrics.token`` set the page is behind the login of
:mod:`driftline.stream.web_access`, and offers to sign out.

Every query runs on ``runtime.read_store`` in a thread executor, so a slow
store never blocks the event loop (alert delivery, /metrics).
"""

from __future__ import annotations

import asyncio
import importlib.resources
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from driftline.settings import DURATION, parse_duration_ms
from driftline.sinks.errors import StoreError
from driftline.stream.web_access import LOGOUT_PATH

from .acks import register_acknowledgements
from .api import DEFAULT_RANGE_S, MAX_RANGE_S, StatusApi
from .reports import register_reports

__all__ = ["register_status_pages"]

log = logging.getLogger("driftline.status")

_CONTENT_TYPES = {".html": "text/html", ".js": "application/javascript", ".css": "text/css",
                  ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon"}


def _static_file(name: str) -> bytes | None:
    """A file directly under ``status/static`` (no sub-paths: nothing outside it can be named)."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return None
    resource = importlib.resources.files("driftline.status").joinpath("static", name)
    try:
        return resource.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


def _int_arg(request, name: str, default: int, low: int, high: int) -> int:
    try:
        return max(low, min(high, int(request.query.get(name, default))))
    except (TypeError, ValueError):
        return default


class _BadRange(ValueError):
    pass


def _range_arg(request) -> float:
    """``?range=`` in seconds, capped at :data:`MAX_RANGE_S`; :class:`_BadRange` when it is no duration."""
    text = request.query.get("range")
    if not text:
        return DEFAULT_RANGE_S
    try:
        seconds = parse_duration_ms(text) / 1000
    except ValueError:
        raise _BadRange(f"range {text[:40]!r} is invalid, expected {DURATION}") from None
    return max(1.0, min(seconds, MAX_RANGE_S))


def register_status_pages(app, runtime) -> None:
    """Add the status page and its JSON API to a Faust ``app`` whose worker runs ``runtime``."""

    # clickhouse-driver clients are not thread-safe: one status query at a time on the shared store.
    lock = threading.Lock()

    def locked(fn, api, range_s):
        with lock:
            return fn(api, range_s)

    async def query(web, request, fn: Callable[[StatusApi, float], Any]):
        store = runtime.read_store
        if store is None:
            return web.json({"error": "the worker is starting"}, status=503)
        try:
            range_s = _range_arg(request)
        except _BadRange as exc:
            return web.json({"error": str(exc)}, status=400)
        api = StatusApi(store, runtime.settings, references=runtime.references)
        try:
            data = await asyncio.get_running_loop().run_in_executor(None, locked, fn, api, range_s)
        except StoreError as exc:
            log.warning("status page query failed: %s", exc)
            return web.json({"error": "store query failed", "detail": str(exc)[:500]}, status=503)
        return web.json(data, headers={"Cache-Control": "no-store"})

    def known(model: str) -> bool:
        return runtime.settings.model(model) is not None

    page = _static_file("index.html") or b"status page missing"
    if runtime.settings.metrics.token:  # signed in through /login: offer to sign out
        page = page.replace(b"<!--session-->", f'<form class="signout" method="post" action="{LOGOUT_PATH}">'
                            '<button type="submit">sign out</button></form>'.encode())

    @app.page("/")
    async def status_index(web, request):
        return web.bytes(page, content_type="text/html", headers={"Cache-Control": "no-store"})

    @app.page("/static/{name}")
    async def status_static(web, request, name: str):
        data = _static_file(name)
        if data is None:
            return web.json({"error": f"no static file {name!r}"}, status=404)
        suffix = name[name.rfind("."):] if "." in name else ""
        return web.bytes(data, content_type=_CONTENT_TYPES.get(suffix, "application/octet-stream"))

    @app.page("/api/models")
    async def status_models(web, request):
        return await query(web, request, lambda q, r: {"models": q.models(r), "since_ms": q.since_s(r) * 1000,
                                                        "generated_at_ms": int(time.time() * 1000)})

    @app.page("/api/models/{model}/drift")
    async def status_drift(web, request, model: str):
        if not known(model):
            return web.json({"error": f"unknown model {model!r}"}, status=404)
        version = request.query.get("version") or None
        windows = _int_arg(request, "windows", 30, 1, 500)
        return await query(web, request, lambda q, r: q.drift(model, version, windows, r))

    @app.page("/api/models/{model}/performance")
    async def status_performance(web, request, model: str):
        if not known(model):
            return web.json({"error": f"unknown model {model!r}"}, status=404)
        windows = _int_arg(request, "windows", 60, 1, 500)
        return await query(web, request, lambda q, r: q.performance(model, windows, r))

    @app.page("/api/models/{model}/latency")
    async def status_latency(web, request, model: str):
        if not known(model):
            return web.json({"error": f"unknown model {model!r}"}, status=404)
        windows = _int_arg(request, "windows", 60, 1, 500)
        return await query(web, request, lambda q, r: q.latency(model, windows, r))

    @app.page("/api/models/{model}/experiments")
    async def status_experiments(web, request, model: str):
        if not known(model):
            return web.json({"error": f"unknown model {model!r}"}, status=404)
        windows = _int_arg(request, "windows", 60, 1, 500)
        return await query(web, request, lambda q, r: q.experiments(model, windows, r))

    @app.page("/api/models/{model}/segments")
    async def status_segments(web, request, model: str):
        if not known(model):
            return web.json({"error": f"unknown model {model!r}"}, status=404)
        windows = _int_arg(request, "windows", 30, 1, 500)
        return await query(web, request, lambda q, r: q.segments(model, windows, r))

    register_acknowledgements(app, runtime)
    register_reports(app, runtime, lock)

    @app.page("/api/alerts")
    async def status_alerts(web, request):
        limit = _int_arg(request, "limit", 50, 1, 1000)
        model = request.query.get("model") or None
        return await query(web, request, lambda q, r: {"alerts": q.alerts(limit, model, r)})
