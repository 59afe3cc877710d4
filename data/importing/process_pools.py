"""The import pipeline's helper processes: started safely, and never outliving their parent.

``end_with_parent`` (the pool's worker initializer) makes each worker exit as soon as the process
that imports is gone, even after ``kill -9``: a thread waits on a pidfd of that process (or polls
it where pidfds are missing). With the workers gone, multiprocessing's fork server and resource
tracker, whose lifetime hangs on their parent's and workers' pipes, end too.

Starting multiprocessing's helper processes while Textual owns ``sys.stderr``:
The import pipeline parses in a process pool. The first pool of a process starts
multiprocessing's resource tracker, which hands ``sys.stderr.fileno()`` to the child; under a
running Textual app ``sys.stderr`` is Textual's print capture, whose descriptor is not a real
one, and the start fails ("bad value(s) in fds_to_keep"). Starting the helpers once with the
real stderr put back avoids that; later pools reuse them.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import threading
import time
from multiprocessing import forkserver, get_context, resource_tracker
from multiprocessing.context import BaseContext

PARENT_POLL_SECONDS = 0.5

# Imported once by the fork server, so each pool's workers are forked with the readers already
# loaded instead of importing them anew (0.1–0.2 s per pool, at every import of three files).
WORKER_MODULES = ["shelver.data.importing.examine"]

_started = False


def pool_context() -> BaseContext:
    """The context pools are made in: forkserver, so workers start clean and never inherit
    the event loop's threads or sockets, with the readers preloaded."""
    context = get_context("forkserver")
    context.set_forkserver_preload(WORKER_MODULES)  # takes effect when the server starts
    return context


def prepare_process_pools() -> None:
    """Start the resource tracker and the fork server with the real stderr (idempotent)."""
    global _started
    if _started:
        return
    pool_context()
    saved = sys.stderr
    try:
        sys.stderr = sys.__stderr__
        with contextlib.suppress(Exception):  # no pool then; the pipeline reports its own errors
            resource_tracker.ensure_running()
            forkserver.ensure_running()
        _started = True
    finally:
        sys.stderr = saved


def end_with_parent(parent_pid: int) -> None:
    """Pool worker initializer: exit at once when ``parent_pid`` (the importer) ends."""
    try:
        handle: int | None = os.pidfd_open(parent_pid)
    except ProcessLookupError:
        os._exit(0)  # already gone
    except (AttributeError, OSError):
        handle = None  # no pidfds here: poll instead

    def watch() -> None:
        if handle is not None:
            select.select([handle], [], [])  # readable once the process has exited
        else:
            while _alive(parent_pid):
                time.sleep(PARENT_POLL_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="shelver-parent-watch", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
