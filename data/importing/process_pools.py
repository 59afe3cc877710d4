"""Starting multiprocessing's helper processes while Textual owns ``sys.stderr``.

The import pipeline parses in a process pool. The first pool of a process starts
multiprocessing's resource tracker, which hands ``sys.stderr.fileno()`` to the child; under a
running Textual app ``sys.stderr`` is Textual's print capture, whose descriptor is not a real
one, and the start fails ("bad value(s) in fds_to_keep"). Starting the helpers once with the
real stderr put back avoids that; later pools reuse them.
"""

from __future__ import annotations

import contextlib
import sys
from multiprocessing import forkserver, resource_tracker

_started = False


def prepare_process_pools() -> None:
    """Start the resource tracker and the fork server with the real stderr (idempotent)."""
    global _started
    if _started:
        return
    saved = sys.stderr
    try:
        sys.stderr = sys.__stderr__
        with contextlib.suppress(Exception):  # no pool then; the pipeline reports its own errors
            resource_tracker.ensure_running()
            forkserver.ensure_running()
        _started = True
    finally:
        sys.stderr = saved
