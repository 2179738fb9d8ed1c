"""Headless Chromium driven over the DevTools protocol, for tests that use a page as a person would:
follow redirects, fill a form, submit it, keep cookies, run the page's JavaScript.

One browser per ``async with Browser(profile) as page``; ``page.evaluate`` runs an expression in the
page and returns its value, ``page.wait_for`` polls one until it is truthy.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1"]


class Page:
    """One tab: a DevTools websocket with request/response by id."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self._ids = itertools.count(1)
        self.events: list[dict] = []  # DevTools events received so far (e.g. Network.requestWillBeSent)

    async def send(self, method: str, **params: Any) -> dict:
        call_id = next(self._ids)
        await self.ws.send_str(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:  # events arrive between answers: keep them aside
            message = json.loads((await self.ws.receive(timeout=30)).data)
            if "method" in message and "id" not in message:
                self.events.append(message)
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    async def navigate(self, url: str) -> None:
        await self.send("Page.navigate", url=url)

    async def evaluate(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            return None  # e.g. the page is between two documents
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = 30, what: str = "") -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = await self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                state = await self.evaluate("location.href + ' ' + document.title")
                raise AssertionError(f"waited {timeout}s for {what or expression} (page: {state})")
            await asyncio.sleep(0.2)

    async def cookies(self) -> list[dict]:
        return (await self.send("Network.getAllCookies"))["cookies"]


class Browser:
    def __init__(self, profile: Path) -> None:
        self.profile = profile
        self.proc: subprocess.Popen | None = None
        self.session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Page:
        if not os.access(CHROMIUM, os.X_OK):
            pytest.fail(f"{CHROMIUM} is missing: browser tests need it (apt-get install chromium)")
        self.profile.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"chromium did not start its DevTools server (exit {self.proc.poll()})")
            await asyncio.sleep(0.1)
        port = port_file.read_text().split()[0]
        self.session = aiohttp.ClientSession()
        async with self.session.get(f"http://127.0.0.1:{port}/json/list") as r:
            target = next(t for t in await r.json() if t["type"] == "page")
        page = Page(await self.session.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0))
        await page.send("Page.enable")
        await page.send("Network.enable")
        return page

    async def __aexit__(self, *exc_info: object) -> None:
        if self.session is not None:
            await self.session.close()
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
