"""Watching the inbox folder: files dropped there are imported once they stop growing.

Run `watch_inbox` as a task while the TUI or ``shelver serve`` runs. Files already in the
folder when it starts are picked up too. Unreadable files move to ``rejected/`` with a
``.reason.txt`` beside them (the pipeline does that for inbox-folder files).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import watchfiles

from shelver.data.db import Database
from shelver.data.home import Home
from shelver.data.importing.pipeline import IN_FLIGHT, ImportReport, import_paths

log = logging.getLogger(__name__)

SETTLE_SECONDS = 2.0  # a file whose size and mtime stay put this long is complete
POLL_SECONDS = 0.25


@dataclass
class _Pending:
    signature: tuple[int, int]
    since: float


def is_candidate(path: Path) -> bool:
    """Book-like entries of the inbox folder: not hidden, not our notes, not folders.

    Symbolic links count: the pipeline refuses them and moves them (the links, not their
    targets) to ``rejected/`` with the reason.
    """
    name = path.name
    if name.startswith(".") or name.endswith((".reason.txt", ".part")):
        return False
    try:
        return path.is_symlink() or path.is_file()
    except OSError:
        return False


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        status = path.lstat()
    except OSError:
        return None
    return (status.st_size, status.st_mtime_ns)


async def watch_inbox(
    database: Database,
    home: Home,
    *,
    stop_event: asyncio.Event | None = None,
    on_report: Callable[[ImportReport], None] | None = None,
    settle: float = SETTLE_SECONDS,
    poll: float = POLL_SECONDS,
    force_polling: bool | None = None,
    inbox_dir: Path | None = None,
) -> None:
    """Import whatever lands in the inbox folder until ``stop_event`` is set.

    ``inbox_dir`` is the configured inbox folder (settings' ``inbox_dir``), by default the
    home's.
    """
    home.ensure()
    folder = Path(inbox_dir).expanduser() if inbox_dir is not None else home.inbox_dir
    folder.mkdir(parents=True, exist_ok=True)
    stop = stop_event or asyncio.Event()
    loop = asyncio.get_running_loop()
    pending: dict[Path, _Pending] = {}
    inbox = folder.resolve()

    def consider(reported: Path) -> None:
        if reported.parent != folder and reported.parent.resolve() != inbox:
            return  # something in a subfolder (such as the pipeline's staging folder)
        path = folder / reported.name  # one spelling, as the pipeline records it
        if not is_candidate(path) or str(path) in IN_FLIGHT:
            return
        signature = _signature(path)
        if signature is not None:
            previous = pending.get(path)
            if previous is None or previous.signature != signature:
                pending[path] = _Pending(signature, loop.time())

    for entry in sorted(folder.iterdir()):
        consider(entry)

    async def events() -> None:
        async for changes in watchfiles.awatch(
            folder,
            stop_event=stop,
            recursive=False,
            force_polling=force_polling,
            debounce=int(poll * 1000),
            step=50,
        ):
            for change, raw in changes:
                if change != watchfiles.Change.deleted:
                    consider(Path(raw))

    watcher = asyncio.create_task(events())
    try:
        while not stop.is_set():
            ready = []
            now = loop.time()
            for path, state in list(pending.items()):
                signature = _signature(path)
                if signature is None:
                    del pending[path]  # gone (moved away or deleted): nothing to do
                elif signature != state.signature:
                    pending[path] = _Pending(signature, now)  # still growing
                elif now - state.since >= settle:
                    ready.append(path)
                    del pending[path]
            if ready:
                await _import(database, home, folder, ready, on_report)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=poll)
            if watcher.done() and not stop.is_set():
                watcher.result()  # re-raise why watching stopped
    finally:
        stop.set()
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)


async def _import(
    database: Database,
    home: Home,
    folder: Path,
    paths: list[Path],
    on_report: Callable[[ImportReport], None] | None,
) -> None:
    try:
        report = await import_paths(database, home, paths, inbox_dir=folder)
    except Exception:  # the watcher outlives any one failed import
        log.exception("importing %d inbox file(s) failed", len(paths))
        return
    if on_report is not None and (report.imported or report.skipped or report.refused):
        on_report(report)
