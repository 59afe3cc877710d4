"""``shelver serve [--host 127.0.0.1] [--port 8765] [--allow-registration]``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from collections.abc import Callable

from shelver.app.cli.context import EXIT_OK, EXIT_USAGE, CliContext, CommandError


def register(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser(
        "serve", help="KoSync and OPDS server for KOReader; watches the inbox"
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8765, help="TCP port (0: any free port)")
    serve.add_argument(
        "--allow-registration", action="store_true", help="let devices create their own logins"
    )
    serve.add_argument(
        "--no-watch", action="store_true", help="do not watch the inbox folder, only serve KoSync"
    )
    serve.add_argument(
        "--trust-proxy",
        action="store_true",
        help="build OPDS links from X-Forwarded-Proto/-Host (only behind your own reverse proxy)",
    )
    serve.set_defaults(handler=run_serve)


class _LineFormatter(logging.Formatter):
    """``asctime name message``, the date and time formatted once per second, not per line
    (the server writes a line per request)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(name)s %(message)s")
        self._second = -1
        self._formatted = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        second = int(record.created)
        if second != self._second:
            self._second = second
            self._formatted = time.strftime(self.default_time_format, self.converter(second))
        return self.default_msec_format % (self._formatted, record.msecs)


def _configure_logging(debug: bool) -> None:
    """One line per event on stderr, with a timestamp (the server's and the watcher's)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_LineFormatter())
    # The lines show none of these; not gathering them makes each line cheaper (the logging
    # HOWTO's "Optimization" section names these switches).
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None  # no caller look-up (file, line, function) per line
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    # Libraries log every HTTP request at INFO; the server's own access line is enough.
    for noisy in ("httpx", "httpcore", "asyncio", "watchfiles"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where it is installed (a faster event loop for a busy server), else asyncio's.

    ``SHELVER_EVENT_LOOP=asyncio`` forces the standard loop (to compare them).
    """
    if os.environ.get("SHELVER_EVENT_LOOP") == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run_serve(context: CliContext, args: argparse.Namespace) -> int:
    from shelver.app.server import ServeError, ServeOptions, serve

    if not 0 <= args.port <= 65535:
        raise CommandError(f"--port must be between 0 and 65535, not {args.port}", EXIT_USAGE)
    _configure_logging(context.debug)
    options = ServeOptions(
        host=args.host,
        port=args.port,
        allow_registration=args.allow_registration,
        watch_inbox=not args.no_watch,
        trust_proxy=args.trust_proxy,
    )

    async def run() -> None:
        database = await context.open_database(min_size=2, max_size=12)
        async with database:
            await serve(database, context.home, context.settings, options)

    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(run())
    except ServeError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    return EXIT_OK
