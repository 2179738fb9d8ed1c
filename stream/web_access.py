"""Who may read the worker's web server: a bearer token, a browser session, public probes.

With ``metrics.token`` set, every path of the web server (ours, the status page's and
Faust's own) needs one of:

* ``Authorization: Bearer <token>`` (Prometheus, scripts);
* the session cookie a browser gets from the login form: ``GET /login`` shows it,
  ``POST /login`` checks the token (constant time; a wrong one waits a little) and sets
  the cookie, ``POST /logout`` clears it.

The paths named in ``metrics.public`` (default ``healthz`` and ``livez``) are served to
anyone: Kubernetes probes and the Docker HEALTHCHECK cannot send a secret. A browser
asking for a page without credentials is sent to the login form; any other request
gets 401 JSON.

The cookie (``driftline_session_<port>``: workers on one host do not overwrite each
other's) is ``HttpOnly``, ``SameSite=Strict``, ``Path=/``, lasts ``metrics.session_ttl``
and is ``Secure`` as ``metrics.secure_cookie`` says (``auto``: when the request came
over https, directly or per ``X-Forwarded-Proto`` from a TLS proxy). Its value is
``v1.<expiry>.<mac>``, the MAC being HMAC-SHA256 of ``v1.<expiry>`` under a key derived
from the token: it is not the token, cannot be forged or extended without it, is
accepted by every replica that has the token (no server state), and changing the token
ends every session. Logging out clears the browser's cookie; a copy of it stays valid
until it expires, unless the token changes.

>>> cookie = SessionCookies("t0ken", ttl_s=3600).issue(now=1000)
>>> cookie.startswith("v1.4600."), "t0ken" in cookie
(True, False)
>>> SessionCookies("t0ken", ttl_s=3600).valid(cookie, now=4599), SessionCookies("t0ken", ttl_s=3600).valid(cookie, now=4600)
(True, False)
>>> SessionCookies("other", ttl_s=3600).valid(cookie, now=1000)
False
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import time
from collections.abc import Callable
from urllib.parse import quote

from aiohttp import web
from driftline.settings import MetricsSettings

__all__ = ["LOGIN_PATH", "LOGOUT_PATH", "SessionCookies", "install_access", "public_paths"]

LOGIN_PATH = "/login"
LOGOUT_PATH = "/logout"
_FAILED_LOGIN_DELAY_S = 0.5
_LOGIN_FORM = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>driftline · sign in</title>
<style>body{{font:15px system-ui,sans-serif;background:#0f172a;color:#e2e8f0;display:grid;place-items:center;
min-height:90vh}}form{{background:#1e293b;padding:2em;border-radius:8px;display:grid;gap:.8em;min-width:18em}}
input,button{{font:inherit;padding:.5em;border-radius:4px;border:1px solid #475569}}
button{{background:#3b82f6;color:#fff;border:0;cursor:pointer}}.error{{color:#f87171}}</style></head>
<body><form method="post" action="{action}"><strong>driftline status</strong>
<label for="token">Access token (<code>metrics.token</code>)</label>
<input id="token" name="token" type="password" autocomplete="current-password" autofocus required>
<input type="hidden" name="next" value="{next}">{error}<button type="submit">Sign in</button></form></body></html>
"""


class SessionCookies:
    """Issues and checks session cookie values (see the module docstring)."""

    def __init__(self, token: str, *, ttl_s: float) -> None:
        if not token:
            raise ValueError("token must be a non-empty string")
        if not ttl_s > 0:
            raise ValueError(f"ttl_s must be > 0, got {ttl_s}")
        # The token's hash keys the MAC: the cookie never carries the token or its plain hash.
        self._key = hmac.new(token.encode(), b"driftline-session-v1", hashlib.sha256).digest()
        self.ttl_s = ttl_s

    def _mac(self, body: str) -> str:
        return hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()

    def issue(self, *, now: float) -> str:
        body = f"v1.{int(now + self.ttl_s)}"
        return f"{body}.{self._mac(body)}"

    def valid(self, value: str | None, *, now: float) -> bool:
        version, _, rest = (value or "").partition(".")
        expiry, _, mac = rest.partition(".")
        if version != "v1" or not expiry.isdigit():
            return False
        return hmac.compare_digest(self._mac(f"v1.{expiry}"), mac) and now < int(expiry)


def public_paths(settings: MetricsSettings) -> frozenset[str]:
    """The paths served without the token: ``metrics.public`` as paths."""
    return frozenset(f"/{name}" for name in settings.public)


def _safe_next(target: str | None) -> str:
    """Only a path on this server (no scheme, no ``//host``): the login form is no open redirect.
    Browsers drop tabs and newlines from a URL and read ``\\`` as ``/``, so neither is let through."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target \
            or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return "/"
    return target


def _see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location, "Cache-Control": "no-store"})


def _secure(request: web.Request, mode: str) -> bool:
    if mode != "auto":
        return mode == "always"
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return request.secure or forwarded == "https"


def install_access(web_app: web.Application, settings: MetricsSettings, *,
                   clock: Callable[[], float] = time.time) -> None:
    """Guard every route of ``web_app`` with ``settings.token`` and add the login and logout routes."""
    token = settings.token
    if not token:
        return
    cookies = SessionCookies(token, ttl_s=settings.session_ttl_s)
    cookie_name = f"driftline_session_{settings.port}"
    expected = f"Bearer {token}".encode()
    open_paths = public_paths(settings) | {LOGIN_PATH, LOGOUT_PATH}

    def login_form(target: str, error: str = "", status: int = 200) -> web.Response:
        page = _LOGIN_FORM.format(action=LOGIN_PATH, next=html.escape(_safe_next(target), quote=True),
                                  error=f'<p class="error">{html.escape(error)}</p>' if error else "")
        return web.Response(text=page, content_type="text/html", status=status,
                            headers={"Cache-Control": "no-store"})

    async def show_login(request: web.Request) -> web.Response:
        return login_form(request.query.get("next", "/"))

    async def log_in(request: web.Request) -> web.Response:
        form = await request.post()
        given, target = str(form.get("token", "")), str(form.get("next", "/"))
        if not hmac.compare_digest(given.encode(), token.encode()):
            await asyncio.sleep(_FAILED_LOGIN_DELAY_S)  # a guess costs time, not just a request
            return login_form(target, "That is not the token.", status=401)
        response = _see_other(_safe_next(target))
        response.set_cookie(cookie_name, cookies.issue(now=clock()), max_age=int(settings.session_ttl_s),
                            path="/", httponly=True, samesite="Strict",
                            secure=_secure(request, settings.secure_cookie))
        return response

    async def log_out(request: web.Request) -> web.Response:
        response = _see_other(LOGIN_PATH)
        response.del_cookie(cookie_name, path="/")
        return response

    @web.middleware
    async def require_credentials(request: web.Request, handler):
        if request.path in open_paths:
            return await handler(request)
        given = request.headers.get("Authorization", "").encode()
        if hmac.compare_digest(given, expected) or cookies.valid(request.cookies.get(cookie_name), now=clock()):
            return await handler(request)
        if request.method == "GET" and "text/html" in request.headers.get("Accept", ""):
            return _see_other(f"{LOGIN_PATH}?next={quote(request.path_qs, safe='/')}")
        return web.json_response({"error": "unauthorized", "login": LOGIN_PATH}, status=401,
                                 headers={"WWW-Authenticate": 'Bearer realm="driftline"'})

    web_app.router.add_get(LOGIN_PATH, show_login)
    web_app.router.add_post(LOGIN_PATH, log_in)
    web_app.router.add_post(LOGOUT_PATH, log_out)
    web_app.middlewares.append(require_credentials)
