"""The asyncpg handles the data layer accepts, named once for every module and for mypy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from asyncpg.pool import PoolConnectionProxy

Connection = asyncpg.Connection | PoolConnectionProxy
"""One session: a connection of its own, or one acquired from a pool (a proxy for it)."""

Executor = asyncpg.Pool | Connection
"""Anything that runs a query: the pool (one round trip per call) or one session."""


@asynccontextmanager
async def session(db: Executor) -> AsyncIterator[Connection]:
    """One connection for a run of queries: acquired once from a pool (querying the pool
    acquires a connection per query, and running them side by side costs more than it saves
    on two cores), or ``db`` itself when it is one already."""
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as conn:
            yield conn
    else:
        yield db
