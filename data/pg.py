"""The asyncpg handles the data layer accepts, named once for every module and for mypy."""

from __future__ import annotations

import asyncpg
from asyncpg.pool import PoolConnectionProxy

Connection = asyncpg.Connection | PoolConnectionProxy
"""One session: a connection of its own, or one acquired from a pool (a proxy for it)."""

Executor = asyncpg.Pool | Connection
"""Anything that runs a query: the pool (one round trip per call) or one session."""
