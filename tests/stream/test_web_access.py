"""The web server's access rules (driftline.stream.web_access) on a real aiohttp server over loopback:
bearer token, login form, session cookie, public probe paths."""

from __future__ import annotations

from http.cookies import SimpleCookie

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from driftline.settings import parse_settings
from driftline.stream.web_access import SessionCookies, install_access

TOKEN = 'tok"@en-3f9a'
PORT = 9108


def metrics_settings(**metrics):
    raw = {"models": [{"name": "m", "features": {"x": "numeric"}}], "metrics": {"port": PORT, **metrics}}
    return parse_settings(raw).metrics


class Clock:
    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def serve():
    """``serve(**metrics)`` -> (base URL, clock): a server with the worker's kinds of pages behind the rules."""
    servers: list[TestServer] = []

    async def start(**metrics):
        clock = Clock()
        app = web.Application()
        async def page(request):
            return web.json_response({"page": request.path})

        for path in ("/", "/healthz", "/livez", "/metrics", "/api/models", "/static/app.js"):
            app.router.add_get(path, page)
        install_access(app, metrics_settings(**metrics), clock=clock)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return str(server.make_url("")).rstrip("/"), clock

    yield start
    for server in servers:
        await server.close()


@pytest.fixture
async def http():
    async with ClientSession() as session:
        yield session


async def get(http, url, **kw):
    async with http.get(url, allow_redirects=False, **kw) as r:
        return r.status, dict(r.headers), await r.text()


async def test_without_a_token_everything_is_open(serve, http):
    base, _ = await serve()
    for path in ("/", "/metrics", "/api/models"):
        assert (await get(http, base + path))[0] == 200
    assert (await get(http, base + "/login"))[0] == 404  # no login when there is nothing to log in to


async def test_probes_are_public_and_everything_else_needs_the_token(serve, http):
    base, _ = await serve(token=TOKEN)
    for path in ("/healthz", "/livez"):
        assert (await get(http, base + path))[0] == 200, path
    for path in ("/metrics", "/api/models", "/static/app.js", "/"):
        status, headers, body = await get(http, base + path)
        assert status == 401 and headers["WWW-Authenticate"] == 'Bearer realm="driftline"', path
        assert TOKEN not in body
        assert (await get(http, base + path, headers={"Authorization": "Bearer nope"}))[0] == 401
        assert (await get(http, base + path, headers={"Authorization": f"Bearer {TOKEN}"}))[0] == 200


@pytest.mark.parametrize(("public", "open_paths"), [
    (["healthz", "livez", "metrics"], {"/healthz", "/livez", "/metrics"}),
    (["metrics"], {"/metrics"}),
    ([], set()),
])
async def test_metrics_public_names_the_open_paths(serve, http, public, open_paths):
    base, _ = await serve(token=TOKEN, public=public)
    for path in ("/healthz", "/livez", "/metrics", "/api/models"):
        assert ((await get(http, base + path))[0] == 200) == (path in open_paths), path


async def test_a_browser_logs_in_with_the_token_and_gets_a_strict_httponly_cookie(serve, http):
    base, clock = await serve(token=TOKEN, session_ttl="1h")
    status, headers, _ = await get(http, base + "/api/models?x=1", headers={"Accept": "text/html"})
    assert status == 303 and headers["Location"] == "/login?next=/api/models%3Fx%3D1"
    status, _, form = await get(http, base + "/login?next=/api/models")
    assert status == 200 and 'name="token"' in form and 'value="/api/models"' in form and TOKEN not in form

    async with http.post(base + "/login", data={"token": "wrong", "next": "/"}, allow_redirects=False) as r:
        assert r.status == 401 and "Set-Cookie" not in r.headers and "not the token" in await r.text()
    async with http.post(base + "/login", data={"token": TOKEN, "next": "/api/models"}, allow_redirects=False) as r:
        assert r.status == 303 and r.headers["Location"] == "/api/models"
        raw = r.headers["Set-Cookie"]
    morsel = SimpleCookie(raw)[f"driftline_session_{PORT}"]
    assert morsel["httponly"] and morsel["samesite"] == "Strict" and morsel["path"] == "/"
    assert morsel["max-age"] == "3600" and not morsel["secure"]  # plain http, no TLS proxy
    value = morsel.value
    assert TOKEN not in value and TOKEN.split("@")[1] not in value
    cookie = {"Cookie": f"driftline_session_{PORT}={value}"}
    assert (await get(http, base + "/api/models", headers=cookie))[0] == 200
    assert (await get(http, base + "/metrics", headers=cookie))[0] == 200

    tampered = value[:-1] + ("0" if value[-1] != "0" else "1")
    assert (await get(http, base + "/api/models", headers={"Cookie": f"driftline_session_{PORT}={tampered}"}))[0] == 401
    longer = value.replace("v1.", "v1.9", 1)  # a later expiry without the key
    assert (await get(http, base + "/api/models", headers={"Cookie": f"driftline_session_{PORT}={longer}"}))[0] == 401
    other = SessionCookies("another-token", ttl_s=3600).issue(now=clock.now)
    assert (await get(http, base + "/api/models", headers={"Cookie": f"driftline_session_{PORT}={other}"}))[0] == 401
    clock.now += 3601
    assert (await get(http, base + "/api/models", headers=cookie))[0] == 401  # expired


async def test_logout_clears_the_cookie(serve, http):
    base, _ = await serve(token=TOKEN)
    async with http.post(base + "/logout", allow_redirects=False) as r:
        assert r.status == 303 and r.headers["Location"] == "/login"
        morsel = SimpleCookie(r.headers["Set-Cookie"])[f"driftline_session_{PORT}"]
    assert morsel.value == "" and morsel["max-age"] == "0"


@pytest.mark.parametrize(("mode", "headers", "secure"), [
    ("auto", {}, False),
    ("auto", {"X-Forwarded-Proto": "https"}, True),  # TLS terminated by a proxy
    ("always", {}, True),
    ("never", {"X-Forwarded-Proto": "https"}, False),
])
async def test_the_cookie_is_secure_over_tls_or_as_configured(serve, http, mode, headers, secure):
    base, _ = await serve(token=TOKEN, secure_cookie=mode)
    async with http.post(base + "/login", data={"token": TOKEN}, headers=headers, allow_redirects=False) as r:
        morsel = SimpleCookie(r.headers["Set-Cookie"])[f"driftline_session_{PORT}"]
    assert bool(morsel["secure"]) is secure


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "", "evil",
                                    "/\t/evil.example", "/\n/evil.example"])
async def test_the_login_form_is_no_open_redirect(serve, http, target):
    base, _ = await serve(token=TOKEN)
    async with http.post(base + "/login", data={"token": TOKEN, "next": target}, allow_redirects=False) as r:
        assert r.status == 303 and r.headers["Location"] == "/"


def test_session_cookies_validate_their_arguments():
    with pytest.raises(ValueError, match="token"):
        SessionCookies("", ttl_s=60)
    with pytest.raises(ValueError, match="ttl_s"):
        SessionCookies("t", ttl_s=0)
    cookies = SessionCookies("t", ttl_s=60)
    assert not cookies.valid(None, now=0) and not cookies.valid("v1.x.y", now=0) and not cookies.valid("v2.99.ab", now=0)
