"""Reading positions reported by KOReader devices."""

from __future__ import annotations

from data.books import Executor
from data.models import ProgressRow
from data.queries import query


async def current_positions(db: Executor, *, limit: int = 500) -> list[ProgressRow]:
    """The newest position of each (document, device), linked to its book where possible."""
    return [
        ProgressRow.from_record(r) for r in await db.fetch(query("list_current_progress"), limit)
    ]


async def count_documents(db: Executor) -> int:
    return await db.fetchval(query("count_progress_documents"))
