"""A stop that lets the requests already started finish before connections are closed.

aiohttp's own shutdown closes every connection's parser at once, which drops whatever bytes
are still on their way: a device whose PUT body had not fully arrived was never answered, and
the stop waited out the whole shutdown timeout for it. Instead the server stops listening,
waits here until the requests in hand are done (their bodies are still read), and only then
lets aiohttp close what is left, which by then is idle connections.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class InFlight:
    """Counts the requests being handled; after :meth:`stop`, each answer closes its
    connection, so a device's next request meets the closed listener and goes elsewhere."""

    def __init__(self) -> None:
        self.count = 0
        self.stopping = False
        self._idle = asyncio.Event()
        self._idle.set()

    def enter(self) -> None:
        self.count += 1
        self._idle.clear()

    def leave(self, response: web.StreamResponse | None) -> None:
        self.count -= 1
        if self.stopping and response is not None:
            response.force_close()
        if self.count == 0:
            self._idle.set()

    async def stop(self, runner: web.BaseRunner, timeout: float) -> None:
        """Stop listening, then wait (at most ``timeout`` seconds) for the requests in hand."""
        self.stopping = True
        for site in list(runner.sites):
            await site.stop()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout)


IN_FLIGHT_KEY = web.AppKey("in_flight", InFlight)


@web.middleware
async def track_in_flight(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The outermost middleware: counts the request while it is handled."""
    in_flight = request.app[IN_FLIGHT_KEY]
    in_flight.enter()
    response: web.StreamResponse | None = None
    try:
        response = await handler(request)
        return response
    finally:
        in_flight.leave(response)
