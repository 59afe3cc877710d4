"""One connection, one task, many requests: the batching behind KoSync's writes and reads.

A busy server gets many small requests at once. Sending each through the pool costs an
acquire, a round trip for the statement and another for the pool's reset of the connection on
release, for every request. A :class:`GroupSession` instead keeps a connection of its own and
queues the requests that arrive while a batch is running; they all go into the next batch, one
statement for all of them. Alone, a request waits only for its own batch; under load, one round
trip (and, for writes, one fsync) serves dozens of devices.

Requests are handled in arrival order. A batch that fails because the connection broke is
retried once on a fresh one; a batch that fails on its data is retried request by request, so
only the culprit's request fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Generic, TypeVar

import asyncpg
from asyncpg.pool import PoolConnectionProxy

log = logging.getLogger("shelver.kosync")

Item = TypeVar("Item")
Result = TypeVar("Result")


class SessionClosed(Exception):
    """The session is shutting down and takes no more requests."""


class GroupSession(Generic[Item, Result]):
    """Batches requests onto one connection of its own (see the module's docstring)."""

    name = "group-session"
    """The task's name, and what the log calls this session."""
    linger: float | None = None
    """Give the connection back to the pool after this many idle seconds (None: keep it until
    closed). A session that lingers lets ``pool.close()`` finish while the server runs on."""

    def __init__(self, pool: asyncpg.Pool, *, max_batch: int = 500) -> None:
        self._pool = pool
        self._max_batch = max_batch
        self._queue: asyncio.Queue[tuple[Item, asyncio.Future[Result]] | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._connection: PoolConnectionProxy | None = None
        self._closing = False
        self.batches = 0
        """How many batches succeeded (for the log and the benchmark)."""
        self.done = 0
        """How many requests they held."""

    # --- what a kind of session does ------------------------------------------------------

    async def _prepare(self, connection: PoolConnectionProxy) -> None:
        """Set up a freshly acquired connection (nothing by default)."""

    async def _process(self, connection: PoolConnectionProxy, items: list[Item]) -> list[Result]:
        """The results of ``items``, in their order, from one batch."""
        raise NotImplementedError

    # --- the machinery ----------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None and not self._closing:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def _submit(self, item: Item) -> Result:
        """Queue ``item`` and wait for its result; raises what its batch raised."""
        if self._closing or self._task is None:
            raise SessionClosed(f"the {self.name} is not running")
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((item, future))
        return await future

    async def close(self) -> None:
        """Finish everything already queued, then stop and give the connection back."""
        self._closing = True
        if self._task is None:
            return
        self._queue.put_nowait(None)
        await self._task
        self._task = None
        await self._drop_connection()

    async def _session(self) -> PoolConnectionProxy:
        """The session's own connection (re-made after a failure)."""
        if self._connection is None or not _usable(self._connection):
            await self._drop_connection()
            connection = await self._pool.acquire()
            try:
                await self._prepare(connection)
            except BaseException:
                await self._pool.release(connection)
                raise
            self._connection = connection
        return self._connection

    async def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await self._pool.release(connection)

    async def _next(self) -> tuple[Item, asyncio.Future[Result]] | None:
        """The next request, giving the connection back while none comes for ``linger``."""
        if self.linger is not None and self._connection is not None and self._queue.empty():
            try:
                return await asyncio.wait_for(self._queue.get(), self.linger)
            except TimeoutError:
                await self._drop_connection()
        return await self._queue.get()

    async def _run(self) -> None:
        stopping = False
        while not stopping:
            item = await self._next()
            if item is None:
                break
            batch = [item]
            while len(batch) < self._max_batch and not self._queue.empty():
                more = self._queue.get_nowait()
                if more is None:
                    stopping = True
                    break
                batch.append(more)
            try:
                await self._handle(batch)
            except Exception as exc:  # the session must outlive any failure
                log.error("%s error: %s", self.name, type(exc).__name__)
                await self._drop_connection()
                for _, future in batch:
                    _settle(future, error=exc)

    async def _handle(
        self, batch: list[tuple[Item, asyncio.Future[Result]]], *, retried: bool = False
    ) -> None:
        try:
            results = await self._process(await self._session(), [item for item, _ in batch])
        except Exception as exc:
            broken_session = _is_session_failure(exc) or (
                self._connection is not None and not _usable(self._connection)
            )
            if broken_session:
                await self._drop_connection()
                if not retried:  # a dropped session is not the devices' fault: try a fresh one
                    await self._handle(batch, retried=True)
                    return
            if len(batch) == 1:
                log.error("%s: a request failed: %s", self.name, type(exc).__name__)
                _settle(batch[0][1], error=exc)
                return
            # Something in the batch failed: retry one by one so only the culprit fails.
            for entry in batch:
                await self._handle([entry])
            return
        self.batches += 1
        self.done += len(batch)
        for (_, future), result in zip(batch, results, strict=True):
            _settle(future, result)


def _is_session_failure(exc: BaseException) -> bool:
    """An error of the connection rather than of the data: the session must be replaced.

    A killed backend can surface as a client-side state error before asyncpg notices the
    socket is gone, so anything that is not a server-reported data error counts.
    """
    if isinstance(exc, asyncpg.PostgresConnectionError | asyncpg.InterfaceError | OSError):
        return True
    return not isinstance(exc, asyncpg.PostgresError)


def _usable(connection: PoolConnectionProxy) -> bool:
    """Whether a pooled connection still works (the pool detaches it when the server drops it)."""
    try:
        return not connection.is_closed()
    except asyncpg.InterfaceError:
        return False


def _settle(
    future: asyncio.Future[Result],
    result: Result | None = None,
    *,
    error: BaseException | None = None,
) -> None:
    if future.done():  # the request gave up waiting (client went away); a write stands
        return
    if error is None:
        future.set_result(result)  # type: ignore[arg-type]
    else:
        future.set_exception(error)
