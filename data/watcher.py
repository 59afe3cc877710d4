"""Watching the inbox folder: files dropped there are imported once they stop growing.

Run `watch_inbox` as a task while the TUI or ``shelver serve`` runs. Files already in the
folder when it starts are picked up too. Unreadable files move to ``rejected/`` with a
``.reason.txt`` beside them (the pipeline does that for inbox-folder files).

A file is taken once its size and modification time have stayed put for ``settle`` seconds and,
where ``/proc`` can tell, no process still has it open for writing. File-system events only
say *when* to look: the folder itself is listed (any byte string is a name), and listed again
every few seconds, so nothing is missed. If the event source fails (``watchfiles`` cannot
decode a name, or the folder vanished) the watcher says so and restarts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import watchfiles

from shelver.data.db import Database
from shelver.data.home import Home
from shelver.data.importing.completeness import STABLE_SECONDS, open_for_writing
from shelver.data.importing.pipeline import IN_FLIGHT, ImportReport, import_paths

log = logging.getLogger(__name__)

# A file whose size and mtime stay put this long is complete: twice the import's own window
# (a watched folder sees a file from its first byte, an import usually once it is whole).
SETTLE_SECONDS = 2 * STABLE_SECONDS
POLL_SECONDS = 0.25
RESCAN_SECONDS = 5.0  # the folder is listed this often even without events
RESTART_SECONDS = 1.0  # pause before the event source is restarted after a failure


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
    on_problem: Callable[[str], None] | None = None,
) -> None:
    """Import whatever lands in the inbox folder until ``stop_event`` is set.

    ``inbox_dir`` is the configured inbox folder (settings' ``inbox_dir``), by default the
    home's. ``on_problem`` hears (one line) when watching failed and was restarted.
    """
    home.ensure()
    folder = Path(inbox_dir).expanduser() if inbox_dir is not None else home.inbox_dir
    folder.mkdir(parents=True, exist_ok=True)
    stop = stop_event or asyncio.Event()
    loop = asyncio.get_running_loop()
    pending: dict[Path, _Pending] = {}

    def consider(path: Path) -> None:
        if not is_candidate(path) or str(path) in IN_FLIGHT:
            return
        signature = _signature(path)
        if signature is not None:
            previous = pending.get(path)
            if previous is None or previous.signature != signature:
                pending[path] = _Pending(signature, loop.time())

    def rescan() -> None:
        """List the folder (names as the file system has them, any bytes) and consider all."""
        try:
            with os.scandir(folder) as entries:
                names = [entry.name for entry in entries]
        except OSError as exc:
            log.warning("cannot list the inbox folder %s: %s", folder, exc.strerror)
            return
        for name in sorted(names):
            consider(folder / name)

    def tell(problem: str) -> None:
        log.warning("%s", problem)
        if on_problem is not None:
            on_problem(problem)

    rescan()
    changed = asyncio.Event()

    async def events() -> None:
        """Wake the loop on file-system events; restart the event source whenever it fails."""
        while not stop.is_set():
            try:
                async for _changes in watchfiles.awatch(
                    folder,
                    stop_event=stop,
                    recursive=False,
                    force_polling=force_polling,
                    debounce=int(poll * 1000),
                    step=50,
                ):
                    changed.set()
                return
            except Exception as exc:  # any failure of the event source is survivable
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                tell(f"watching the inbox folder failed ({first[:200]}); restarted it")
                changed.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=RESTART_SECONDS)

    watcher = asyncio.create_task(events())
    last_scan = loop.time()
    try:
        while not stop.is_set():
            if changed.is_set() or loop.time() - last_scan >= RESCAN_SECONDS:
                changed.clear()
                rescan()
                last_scan = loop.time()
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
            busy = await asyncio.to_thread(open_for_writing, ready) if ready else set()
            for path in busy:  # a writer still has it open: wait for it to close the file
                pending[path] = _Pending(_signature(path) or (0, 0), now)
            ready = [path for path in ready if path not in busy]
            if ready:
                await _import(database, home, folder, ready, on_report)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=poll)
            if watcher.done() and not stop.is_set():
                tell("the inbox folder's event source ended; restarted it")
                watcher = asyncio.create_task(events())
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
