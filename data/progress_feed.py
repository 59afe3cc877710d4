"""The live feed of reading-progress changes: LISTEN, take bursts together, come back after a
dropped connection. Screens consume it; they never see a connection or a queue.

    async with contextlib.aclosing(progress_feed(pool)) as feed:
        async for batch in feed:
            ...  # batch.notices: what changed since the last batch

The first batch (empty) says the feed is listening. A notice is handed on at once; what arrives
in the next :data:`COALESCE_SECONDS` waits and comes as one batch, so a busy sync server costs a
consumer a few updates a second. When the listening connection drops (a server restart, a
network cut to a remote database) a batch with ``live`` False says so, and the feed opens a new
one after a pause that doubles up to :data:`RECONNECT_MAX_SECONDS`; its first batch then has
``missed`` set: changes may have gone unheard, so the consumer should read everything again.
Errors other than a lost connection end the feed (they are raised to the consumer).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg

from shelver.data.reading import CONNECTION_LOST, ProgressNotice, progress_notifications

COALESCE_SECONDS = 0.2
"""After a batch, notices wait this long and then come together (at most five batches a
second however busy the sync server is)."""
RECONNECT_FIRST_SECONDS = 0.5
RECONNECT_MAX_SECONDS = 30.0
"""A dropped listener is re-opened after a pause that doubles up to this."""

LOST_CONNECTION_ERRORS = (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError)


@dataclass(frozen=True)
class ProgressBatch:
    """What the feed has to say: changes, or a change in whether it is listening."""

    notices: tuple[ProgressNotice, ...] = ()
    """Changes in the order they were committed (empty for a listening/lost announcement)."""
    live: bool = True
    """False: the listening connection was lost; the feed is waiting to open a new one."""
    missed: bool = False
    """Listening again after a gap: changes may have gone unheard, read everything again."""


async def progress_feed(
    pool: asyncpg.Pool,
    *,
    coalesce: float = COALESCE_SECONDS,
    first_pause: float = RECONNECT_FIRST_SECONDS,
    max_pause: float = RECONNECT_MAX_SECONDS,
) -> AsyncIterator[ProgressBatch]:
    """Batches of progress notices until the consumer stops (close the iterator, or cancel)."""
    pause = first_pause
    reconnecting = False
    while True:
        try:
            async with progress_notifications(pool) as queue:
                pause = first_pause
                yield ProgressBatch(missed=reconnecting)
                while True:
                    notices, lost = await _next_burst(queue)
                    if notices:
                        yield ProgressBatch(tuple(notices))
                    if lost:
                        break
                    # The first notice went at once; what arrives in the next moment waits.
                    await asyncio.sleep(coalesce)
        except LOST_CONNECTION_ERRORS:
            pass  # cannot listen right now: try again after a pause
        reconnecting = True
        yield ProgressBatch(live=False)
        await asyncio.sleep(pause)
        pause = min(pause * 2, max_pause)


async def _next_burst(queue: asyncio.Queue[ProgressNotice]) -> tuple[list[ProgressNotice], bool]:
    """Everything queued (waiting for at least one notice), and whether the connection is lost."""
    burst = [await queue.get()]
    while not queue.empty():
        burst.append(queue.get_nowait())
    lost = any(notice.kind == CONNECTION_LOST for notice in burst)
    return [notice for notice in burst if notice.kind != CONNECTION_LOST], lost
