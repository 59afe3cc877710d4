"""Waiting for a killed process's database session to end.

When a test SIGKILLs a process, PostgreSQL ends that process's backend (and releases its
advisory locks) a moment later, when the backend notices the closed socket. Under load that
moment can be after the test's next query, which would then see the dead process as a live
one. Tests that kill a process wait here first, as a real restart (seconds later) would have.
"""

from __future__ import annotations

import asyncio
import time

import asyncpg

HELD_ADVISORY_LOCKS = """
    SELECT count(*) FROM pg_locks
    WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


async def wait_until_advisory_locks_released(dsn: str, timeout: float = 30) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + timeout
        while await conn.fetchval(HELD_ADVISORY_LOCKS):
            if time.monotonic() > deadline:
                raise AssertionError("a killed process's session still holds its locks")
            await asyncio.sleep(0.02)
    finally:
        await conn.close()
