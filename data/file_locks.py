"""Advisory file locks (``flock``) that say whether their owner is still alive."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


def lock_is_free(lock_path: Path) -> bool:
    """Nobody holds ``lock_path`` (or it is gone): the process that owned it has ended.

    A link is never followed; a lock we cannot open counts as held.
    """
    try:
        fd = os.open(lock_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing releases a lock we got
    return True
