"""``shelver web``: the TUI in a browser, served by textual-serve.

Each browser tab runs its own ``shelver`` TUI process on the same home and database (passed
through the environment, so no secret shows in ``ps``). textual-serve has no login of its own:
when any ``web`` login exists every request (the page, its websocket, downloads) needs HTTP Basic
with one, checked by the same function as OPDS and WebDAV (with the same failed-login limits).
Without a ``web`` login shelver web only listens on a loopback address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import shlex
import socket
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from shelver.app.http_auth import AUTHENTICATOR_KEY, GUARD_KEY, require_basic
from shelver.data.device_auth import DeviceAuthenticator
from shelver.data.login_guard import LoginRefused
from shelver.data.settings import ServerLimits

log = logging.getLogger("shelver.web")
WEB_SERVICE = "web"


class WebError(Exception):
    """shelver web cannot start as asked; one readable line."""


def is_loopback(host: str) -> bool:
    """Whether every address ``host`` names is a loopback one (127.0.0.0/8, ::1)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)


def public_host(host: str) -> str:
    """The address a browser should use: a wildcard address becomes this machine's own."""
    if host in ("0.0.0.0", "::", ""):
        from shelver.screens.settings import lan_address

        return lan_address()
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def tui_command() -> str:
    return shlex.join([sys.executable, "-m", "shelver"])


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def login_middleware(required: Callable[[], bool]):
    @web.middleware
    async def check_login(request: web.Request, handler: Handler) -> web.StreamResponse:
        if required():
            try:
                principal = await require_basic(
                    request, services=(WEB_SERVICE,), allow_api_keys=False
                )
            except LoginRefused as refused:
                await asyncio.sleep(refused.delay)  # a client that keeps guessing is slowed down
                return web.Response(
                    status=429,
                    text=str(refused).capitalize() + "\n",
                    headers={"Retry-After": str(refused.retry_after)},
                )
            except web.HTTPUnauthorized as refusal:
                log.info("%s %s refused: no valid web login", request.remote, request.path)
                return web.Response(status=401, text=refusal.text, headers=refusal.headers)
            log.debug("%s signed in as %s", request.remote, principal.log_name)
        return await handler(request)

    return check_login


def make_server(
    host: str, port: int, pool: Any, login_required: bool, limits: ServerLimits | None = None
) -> Any:
    """A textual-serve Server for the shelver TUI, with shelver's login in front of it (failed
    logins limited as ``limits``, the ``[server]`` settings, say)."""
    guard = (limits or ServerLimits()).login_guard()
    from textual_serve.server import Server

    class ShelverWebServer(Server):
        async def _make_app(self) -> web.Application:
            app = await super()._make_app()
            app.middlewares.append(login_middleware(lambda: login_required))
            app[AUTHENTICATOR_KEY] = DeviceAuthenticator(pool)
            app[GUARD_KEY] = guard
            return app

    return ShelverWebServer(
        tui_command(),
        host=host,
        port=port,
        title="shelver",
        public_url=f"http://{public_host(host)}:{port}",
    )
