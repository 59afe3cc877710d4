"""Opening the TUI: plain ``shelver`` and ``shelver demo``."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from shelver.app.cli.context import EXIT_OK, CliContext
from shelver.data.db import DatabaseTarget
from shelver.data.home import Home


def register(commands: argparse._SubParsersAction) -> None:
    demo = commands.add_parser(
        "demo",
        help="open the TUI on sample data (in --home when given, else in a throwaway home)",
    )
    demo.set_defaults(handler=run_demo)


def run_tui(context: CliContext, args: argparse.Namespace) -> int:
    # Textual loads only when the TUI opens, so the other commands start quickly.
    from shelver.app.shelver_app import ShelverApp
    from shelver.app.terminal import EndsWithTerminal

    context.home.ensure()
    with EndsWithTerminal() as ending:
        ending.app = ShelverApp(home=context.home, settings=context.settings, target=context.target)
        _probe_terminal_pictures()
        try:
            ending.app.run()
        finally:
            ending.shutting_down = True
            _skip_final_collection()
    return EXIT_OK


def run_demo(context: CliContext, args: argparse.Namespace) -> int:
    """Fill a home with sample data (only if it has no books) and open the TUI on it."""
    from shelver.app.demo import seed_demo_library
    from shelver.app.shelver_app import ShelverApp
    from shelver.app.terminal import EndsWithTerminal

    throwaway = args.home is None
    if throwaway:
        root = Path(tempfile.mkdtemp(prefix="shelver-demo-"))
        context.home = Home.at(root)
        context.target = DatabaseTarget.choose(context.home, None)
    context.home.ensure()

    removing = threading.Lock()  # the main thread and the exit watchdog may both get here

    def remove_throwaway() -> None:
        with removing:
            cluster = context.target.cluster
            if cluster is not None:
                # Its data is thrown away: an immediate stop, no checkpoint to wait for, and
                # no EmbeddedCluster.drop(), whose careful removal takes seconds on a busy disk.
                cluster.stop_now(timeout=10)
            _discard(context.home.data_dir)
            if cluster is not None and cluster.running_as_root:
                _discard(cluster.root)

    emergency = remove_throwaway if throwaway else None
    with EndsWithTerminal(emergency=emergency) as ending:
        try:

            async def seed() -> None:
                database = await context.open_database(max_size=2)
                async with database:
                    await seed_demo_library(database, context.home)

            asyncio.run(seed())
            ending.app = ShelverApp(
                home=context.home, settings=context.settings, target=context.target
            )
            _probe_terminal_pictures()
            ending.app.run()
        finally:
            ending.shutting_down = True
            if throwaway:
                remove_throwaway()
            _skip_final_collection()
    return EXIT_OK


def _discard(folder: Path) -> None:
    """Remove ``folder`` at once from where it was; its files (a cluster holds thousands,
    seconds of work on a busy disk) are deleted by a detached ``rm`` that outlives us."""
    doomed = folder.with_name(f".{folder.name}.discarded-{os.getpid()}")
    try:
        folder.rename(doomed)
    except FileNotFoundError:
        return
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)
        return
    try:
        subprocess.Popen(
            ["rm", "-rf", "--", str(doomed)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError:
        shutil.rmtree(doomed, ignore_errors=True)


def _skip_final_collection() -> None:
    """The interpreter's last garbage collection walks everything the TUI ever built (seconds
    on a busy machine) only to free memory the exit frees anyway: set it all aside."""
    import gc

    gc.freeze()


def _probe_terminal_pictures() -> None:
    """Ask the terminal whether it shows pictures (Review's covers): only possible before
    Textual starts reading the terminal."""
    from shelver.widgets.review_cover import probe_graphics

    probe_graphics()
