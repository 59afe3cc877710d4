"""Limits every connection of ``shelver serve`` obeys, whatever route it asks for.

aiohttp bounds header sizes and request bodies, and closes idle keep-alive connections, but it
waits forever for a request that arrives one byte at a time (slowloris) and accepts as many
connections as an address cares to open. :class:`LimitedSite` wraps each connection:

- **per address**: at most ``max_per_address`` open connections; more are answered 503 and
  closed at once (one log line per address and minute, not per connection);
- **overall**: at most ``max_connections`` (kept below the open-file limit), so one client
  cannot starve the process of file descriptors;
- **request head**: a request's line and headers must be complete within ``head_seconds`` of
  the connection opening or of the previous answer; a client that drips them is closed. The
  same clock closes a connection left idle between requests.

The routes mark when a request's head is complete (:func:`request_started`) and when its answer
is sent (:func:`request_finished`); the access-log middleware does that for every route. Bad
requests aiohttp itself refuses (a header too long, a broken request line) are logged by
:class:`CleanBadRequestLog` as one escaped line, with no traceback.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from shelver.data.login_guard import escape_for_log
from shelver.data.settings import ServerLimits

log = logging.getLogger("shelver.serve")
access_log = logging.getLogger("shelver.serve.access")

DEFAULTS = ServerLimits()
HEAD_SECONDS = DEFAULTS.request_head_seconds
MAX_PER_ADDRESS = DEFAULTS.connections_per_address
MAX_CONNECTIONS = DEFAULTS.max_connections
RESERVED_FILES = 64
"""File descriptors kept free for the database pool, the log and the library's files."""
REFUSAL_LOG_SECONDS = 60.0

LIMITS_KEY = web.AppKey("server_limits", ServerLimits)
"""The server's limits (``[server]`` in config.toml), for the routes' own body time limits."""


def limits_of(request: web.Request) -> ServerLimits:
    """The limits the request's application runs with (the defaults when none were given)."""
    return request.config_dict.get(LIMITS_KEY, DEFAULTS)


BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n"
    b"Retry-After: 5\r\n\r\n"
)


def connection_budget(wanted: int = MAX_CONNECTIONS) -> int:
    """How many connections this process can hold open: raises the soft open-file limit to
    the hard one, and stays ``RESERVED_FILES`` below it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, wanted + RESERVED_FILES)
    if soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return max(8, min(wanted, soft - RESERVED_FILES))


class _Connections:
    """Open connections per address, shared by every connection of one site."""

    def __init__(self, max_per_address: int, max_connections: int, head_seconds: float) -> None:
        self.max_per_address = max_per_address
        self.max_connections = max_connections
        self.head_seconds = head_seconds
        self.by_address: Counter[str] = Counter()
        self.total = 0
        self.refused = 0
        self.timed_out = 0
        self._last_logged: dict[str, float] = {}

    def log_refusal(self, address: str, why: str) -> None:
        now = time.monotonic()
        if now - self._last_logged.get(address, -REFUSAL_LOG_SECONDS) >= REFUSAL_LOG_SECONDS:
            self._last_logged[address] = now
            if len(self._last_logged) > 10_000:
                self._last_logged.clear()
            log.warning("refusing connections from %s: %s", escape_for_log(address), why)


class _LimitedConnection(asyncio.Protocol):
    """Stands between the event loop and aiohttp's handler for one connection."""

    def __init__(self, make_inner: Callable[[], Any], connections: _Connections) -> None:
        # aiohttp's handler is made only for an admitted connection: a refused one costs a
        # write and a close, not the set-up of a request handler and its parser.
        self._make_inner = make_inner
        self._inner: Any = None
        self._connections = connections
        self._address = "-"
        self._transport: Any = None
        self._counted = False
        self._deadline: asyncio.TimerHandle | None = None

    # --- the request-head clock ----------------------------------------------------------

    def _arm(self) -> None:
        self._disarm()
        loop = asyncio.get_running_loop()
        self._deadline = loop.call_later(self._connections.head_seconds, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self._transport is not None and not self._transport.is_closing():
            self._connections.timed_out += 1
            self._transport.abort()

    def request_started(self) -> None:
        self._disarm()

    def request_finished(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._arm()

    # --- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: Any) -> None:  # asyncio's or uvloop's transport
        self._transport = transport
        peer = transport.get_extra_info("peername")
        self._address = str(peer[0]) if isinstance(peer, tuple) and peer else "-"
        connections = self._connections
        if connections.total >= connections.max_connections:
            why = "the server is at its connection limit"
        elif connections.by_address[self._address] >= connections.max_per_address:
            why = f"more than {connections.max_per_address} open connections"
        else:
            why = ""
        if why:
            connections.refused += 1
            connections.log_refusal(self._address, why)
            transport.write(BUSY)
            transport.close()
            return
        self._counted = True
        connections.total += 1
        connections.by_address[self._address] += 1
        self._inner = self._make_inner()
        _LIVE[self._inner] = self
        self._inner.connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if not self._counted:
            return
        self._counted = False
        connections = self._connections
        connections.total -= 1
        connections.by_address[self._address] -= 1
        if connections.by_address[self._address] <= 0:
            del connections.by_address[self._address]
        _LIVE.pop(self._inner, None)
        self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._counted:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._counted else None

    def pause_writing(self) -> None:
        if self._counted:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._counted:
            self._inner.resume_writing()


# aiohttp's handler of a connection -> its limits (the middleware finds them by request.protocol)
_LIVE: dict[Any, _LimitedConnection] = {}


def request_started(request: web.BaseRequest) -> None:
    """The request's head is complete: its connection's head clock stops."""
    limited = _LIVE.get(request.protocol)
    if limited is not None:
        limited.request_started()


def request_finished(request: web.BaseRequest) -> None:
    """The answer is on its way: the clock runs again for the next request (or idleness)."""
    limited = _LIVE.get(request.protocol)
    if limited is not None:
        limited.request_finished()


class LimitedSite(web.TCPSite):
    """A TCP site whose connections obey the limits above."""

    @classmethod
    def with_limits(
        cls, runner: web.BaseRunner, host: str, port: int, limits: ServerLimits, **options: Any
    ) -> LimitedSite:
        """A site with the connection limits of ``[server]`` in config.toml."""
        return cls(
            runner,
            host,
            port,
            head_seconds=limits.request_head_seconds,
            max_per_address=limits.connections_per_address,
            max_connections=connection_budget(limits.max_connections),
            **options,
        )

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str | None = None,
        port: int | None = None,
        *,
        head_seconds: float = HEAD_SECONDS,
        max_per_address: int = MAX_PER_ADDRESS,
        max_connections: int | None = None,
        **options: Any,
    ) -> None:
        super().__init__(runner, host, port, **options)
        self.connections = _Connections(
            max_per_address,
            max_connections if max_connections is not None else connection_budget(),
            head_seconds,
        )

    async def start(self) -> None:
        await web.BaseSite.start(self)  # registers the site with its runner
        server = self._runner.server
        assert server is not None
        connections = self.connections
        self._server = await asyncio.get_running_loop().create_server(
            lambda: _LimitedConnection(server, connections),
            self._host,
            self._port,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
            reuse_port=self._reuse_port,
        )
        if self._server.sockets:
            self._bound_port = self._server.sockets[0].getsockname()[1]


class CleanBadRequestLog(logging.Filter):
    """aiohttp logs a request it cannot parse with a traceback quoting the client's bytes:
    turn that into one escaped access-style line (client errors are not server errors)."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if not isinstance(error, HttpProcessingError):
            return True
        address = record.args[0] if isinstance(record.args, tuple) and record.args else "-"
        access_log.info(
            '%s "-" %d bad request: %s',
            escape_for_log(str(address)),
            error.code,
            escape_for_log(str(error.message))[:200],
        )
        return False


def install_bad_request_log() -> None:
    """Attach :class:`CleanBadRequestLog` once to aiohttp's server logger."""
    logger = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, CleanBadRequestLog) for f in logger.filters):
        logger.addFilter(CleanBadRequestLog())
