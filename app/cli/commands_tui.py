"""Opening the TUI: plain ``shelver`` and ``shelver demo``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from shelver.app.cli.context import EXIT_OK, CliContext
from shelver.data.db import DatabaseTarget
from shelver.data.home import Home


def register(commands: argparse._SubParsersAction) -> None:
    demo = commands.add_parser(
        "demo",
        help="open the TUI on sample data (in --home when given, else in a throwaway home)",
    )
    demo.set_defaults(handler=run_demo)


@contextlib.contextmanager
def _exit_cleanly_on_hangup(app: Any) -> Iterator[None]:
    """A closed SSH session (SIGHUP) or SIGTERM ends the app like `q` does.

    Without this the process dies on the spot: the pool is not closed and ``shelver demo``
    would leave its throwaway home and cluster behind.
    """

    def request_exit(signum: int, frame: object) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # the app is not running (yet or any more)
            raise SystemExit(128 + signum) from None
        loop.call_soon_threadsafe(app.exit)

    previous = {sig: signal.signal(sig, request_exit) for sig in (signal.SIGHUP, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_tui(context: CliContext, args: argparse.Namespace) -> int:
    from shelver.app.shelver_app import ShelverApp  # Textual loads only when the TUI opens

    context.home.ensure()
    app = ShelverApp(home=context.home, settings=context.settings, target=context.target)
    _probe_terminal_pictures()
    with _exit_cleanly_on_hangup(app):
        app.run()
    return EXIT_OK


def run_demo(context: CliContext, args: argparse.Namespace) -> int:
    """Fill a home with sample data (only if it has no books) and open the TUI on it."""
    from shelver.app.demo import seed_demo_library
    from shelver.app.shelver_app import ShelverApp

    throwaway = args.home is None
    if throwaway:
        root = Path(tempfile.mkdtemp(prefix="shelver-demo-"))
        context.home = Home.at(root)
        context.target = DatabaseTarget.choose(context.home, None)
    context.home.ensure()
    try:

        async def seed() -> None:
            database = await context.open_database(max_size=2)
            async with database:
                await seed_demo_library(database, context.home)

        asyncio.run(seed())
        app = ShelverApp(home=context.home, settings=context.settings, target=context.target)
        _probe_terminal_pictures()
        with _exit_cleanly_on_hangup(app):
            app.run()
    finally:
        if throwaway:
            if context.target.cluster is not None:
                context.target.cluster.drop()  # stops it and deletes its data
            shutil.rmtree(context.home.data_dir, ignore_errors=True)
    return EXIT_OK


def _probe_terminal_pictures() -> None:
    """Ask the terminal whether it shows pictures (Review's covers): only possible before
    Textual starts reading the terminal."""
    from shelver.widgets.review_cover import probe_graphics

    probe_graphics()
