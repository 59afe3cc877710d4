"""The asyncpg handles the data layer accepts, named once for every module and for mypy."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

Connection = asyncpg.Connection | PoolConnectionProxy
"""One session: a connection of its own, or one acquired from a pool (a proxy for it)."""

Executor = asyncpg.Pool | Connection
"""Anything that runs a query: the pool (one round trip per call) or one session."""


async def each(db: Executor, *steps: Awaitable[Any]) -> list[Any]:
    """The results of ``steps``, queries on ``db``: side by side on a pool's connections (a
    screen waits for the slowest, not for the sum), one after another on one session."""
    if isinstance(db, asyncpg.Pool):
        return list(await asyncio.gather(*steps))
    return [await step for step in steps]
