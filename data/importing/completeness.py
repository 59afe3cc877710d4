"""Is a file complete? Taken only once nobody is still writing it.

Two signs, used together: its size and modification time stay put across a short window
(``wait_until_stable``), and, where ``/proc`` can tell (Linux), no process holds it open for
writing (``open_for_writing``). The first catches writers that pause and close; the second the
ones that keep a file open and write slowly.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path

SETTLE_VARIABLE = "SHELVER_IMPORT_SETTLE_SECONDS"


def _settle_seconds(default: float = 1.0) -> float:
    """The window from the environment (longer for slow network shares, shorter where files
    only arrive whole), else ``default``; a value that is not a number is ignored."""
    try:
        value = float(os.environ.get(SETTLE_VARIABLE, default))
    except ValueError:
        return default
    return value if 0 <= value <= 60 else default


STABLE_SECONDS = _settle_seconds()
"""How long size and modification time must stay put before a file counts as complete."""
MAX_WAIT_SECONDS = 6.0
"""After this long still changing, a file is refused as still being written."""

Signature = tuple[int, int]


def signature(path: Path) -> Signature | None:
    """(size, mtime in ns) of ``path`` itself (a link is not followed), or None if gone."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return (info.st_size, info.st_mtime_ns)


def wait_until_stable(
    paths: list[Path], window: float = STABLE_SECONDS, limit: float = MAX_WAIT_SECONDS
) -> set[Path]:
    """Wait (at most ``limit`` seconds) until every recently changed path has kept its size
    and modification time for ``window`` seconds; the paths that never settled."""
    deadline = time.monotonic() + limit
    watching = {p: s for p in paths if (s := signature(p)) is not None and _recent(s, window)}
    while watching:
        if time.monotonic() >= deadline:
            return set(watching)
        time.sleep(window)
        still = {}
        for path, before in watching.items():
            now = signature(path)
            if now is not None and (now != before or _recent(now, window)):
                still[path] = now
        watching = still
    return set()


def _recent(sig: Signature, window: float) -> bool:
    return time.time() - sig[1] / 1e9 < window


def open_for_writing(paths: Iterable[Path]) -> set[Path]:
    """Those of ``paths`` that some process has open for writing (empty where /proc cannot
    tell: another user's processes are unreadable unless we are root)."""
    wanted: dict[tuple[int, int], Path] = {}
    for path in paths:
        try:
            info = os.stat(path, follow_symlinks=False)
        except OSError:
            continue
        wanted[(info.st_dev, info.st_ino)] = path
    if not wanted:
        return set()
    busy: set[Path] = set()
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return busy
    for pid in pids:
        fd_dir = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                info = os.stat(f"{fd_dir}/{fd}")
            except OSError:
                continue
            open_path = wanted.get((info.st_dev, info.st_ino))
            if open_path is None or open_path in busy:
                continue
            if _writable(f"/proc/{pid}/fdinfo/{fd}"):
                busy.add(open_path)
    return busy


def _writable(fdinfo: str) -> bool:
    try:
        with open(fdinfo, encoding="ascii") as handle:
            for line in handle:
                if line.startswith("flags:"):
                    return int(line.split()[1], 8) & os.O_ACCMODE in (os.O_WRONLY, os.O_RDWR)
    except (OSError, ValueError):
        pass
    return False
