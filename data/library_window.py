"""Index-addressed reading of a Library list on top of keyset pages, for virtual views.

A virtual list asks for "rows 51,200 to 51,300"; SQL pages by keys, never by OFFSET. The
window keeps the cursor of the row before every block boundary it has seen (an anchor), so a
block next to a known one is one query. A jump far from every anchor walks there in long
pages that keep only the anchors; a jump nearer the end than to any anchor walks backwards
from the end (the same order reversed), so End is as quick as Home.
"""

from __future__ import annotations

import asyncio
from uuid import UUID

from data import library
from data.books import Executor
from data.library_models import LibraryPage, LibraryQuery, LibraryRow, LibrarySort, PageCursor

BLOCK_SIZE = 100
WALK_PAGE = 2_000


class LibraryWindow:
    """Rows of one ``LibraryQuery`` by index: ``count()``, ``fetch(start, n)``, ``locate(id)``.

    It satisfies the row source that ``widgets.book_table.BookTable`` reads through; it holds
    no UI. Make a new window when the query changes.
    """

    def __init__(
        self,
        db: Executor,
        library_query: LibraryQuery,
        *,
        block_size: int = BLOCK_SIZE,
        walk_page: int = WALK_PAGE,
    ) -> None:
        self.db = db
        self.query = library_query
        self.block_size = block_size
        self.walk_page = walk_page
        self._tsquery: str | None = None
        self._tsquery_ready = False
        self._first: asyncio.Task[LibraryPage] | None = None
        self._total: int | None = None
        # anchors[i]: cursor of row i - 1 in forward order (None for i = 0).
        self._anchors: dict[int, PageCursor | None] = {0: None}
        # back_anchors[i]: cursor of row i in reversed order (None for i = total).
        self._back_anchors: dict[int, PageCursor | None] = {}

    def key(self, row: LibraryRow) -> UUID:
        return row.id

    async def _query_text(self) -> str | None:
        if not self._tsquery_ready:
            self._tsquery = await library.search_tsquery(self.db, self.query.text)
            self._tsquery_ready = True
        return self._tsquery

    async def _first_page(self) -> LibraryPage:
        if self._first is None:
            self._first = asyncio.ensure_future(self._load_first())
        return await asyncio.shield(self._first)

    async def _load_first(self) -> LibraryPage:
        tsquery = await self._query_text()
        first = await library.page(self.db, self.query, limit=self.block_size, tsquery=tsquery)
        self._remember_forward(0, first.rows)
        if first.next_cursor is None:
            self._total = len(first.rows)  # one page is all there is (also: fuzzy answers)
        return first

    async def count(self) -> int:
        """How many rows the list has."""
        if self._total is None:
            tsquery = await self._query_text()
            first, total = await asyncio.gather(
                self._first_page(), library.count(self.db, self.query, tsquery=tsquery)
            )
            self._total = len(first.rows) if first.next_cursor is None else total
            self._back_anchors.setdefault(self._total, None)
        return self._total

    async def fetch(self, start: int, count: int) -> list[LibraryRow]:
        """Rows ``start`` .. ``start + count - 1`` (fewer at the end of the list)."""
        if start < 0 or count <= 0:
            return []
        if start == 0 and count <= self.block_size:
            return (await self._first_page()).rows[:count]
        total = await self.count()
        end = min(start + count, total)
        if start >= end:
            return []
        if start in self._anchors:
            return await self._forward(start, end)
        known = max(i for i in self._anchors if i <= start)
        reversible = self._reversible()
        if reversible:
            back = min((i for i in self._back_anchors if i >= end), default=None)
            if back is not None and back - end < start - known:
                return await self._backward(start, end, back)
        return await self._forward(start, end, walk_from=known)

    async def locate(self, book_id: UUID) -> int | None:
        """The index of ``book_id`` in this list, or None when it is not there."""
        first = await self._first_page()
        for index, row in enumerate(first.rows):
            if row.id == book_id:
                return index
        if first.next_cursor is None:
            return None
        return await library.locate(self.db, self.query, book_id, tsquery=await self._query_text())

    def _reversible(self) -> bool:
        ordered_by = self._ordered_by()
        return ordered_by is not None and ordered_by is not LibrarySort.RELEVANCE

    def _ordered_by(self) -> LibrarySort | None:
        if self._first is None or not self._first.done() or self._first.exception():
            return None
        rows = self._first.result().rows
        return rows[0].cursor.ordered_by if rows and rows[0].cursor else None

    def _remember_forward(self, start: int, rows: list[LibraryRow]) -> None:
        for offset, row in enumerate(rows, start=1):
            index = start + offset
            if index % self.block_size == 0 or offset == len(rows):
                self._anchors[index] = row.cursor

    async def _forward(
        self, start: int, end: int, walk_from: int | None = None
    ) -> list[LibraryRow]:
        position = start if walk_from is None else walk_from
        tsquery = await self._query_text()
        wanted: list[LibraryRow] = []
        while position < end:
            # Walking to a far block keeps only anchors; the last stretch is what was asked.
            limit = min(end - position, self.walk_page)
            result = await library.page(
                self.db,
                self.query,
                after=self._anchors[position],
                limit=limit,
                tsquery=tsquery,
                fuzzy=False,
            )
            self._remember_forward(position, result.rows)
            for offset, row in enumerate(result.rows):
                if start <= position + offset < end:
                    wanted.append(row)
            position += len(result.rows)
            if result.next_cursor is None:
                break
        return wanted

    async def _backward(self, start: int, end: int, back: int) -> list[LibraryRow]:
        first_cursor = (await self._first_page()).rows[0].cursor
        assert first_cursor is not None
        forward_descending = first_cursor.descending
        reversed_query = self.query.model_copy(
            update={"sort": first_cursor.ordered_by, "descending": not forward_descending}
        )
        tsquery = await self._query_text()
        position = back  # rows before this index are still to read
        collected: dict[int, LibraryRow] = {}
        while position > start:
            limit = min(position - start, self.walk_page)
            result = await library.page(
                self.db,
                reversed_query,
                after=self._back_anchors[position],
                limit=limit,
                tsquery=tsquery,
                fuzzy=False,
            )
            for offset, row in enumerate(result.rows, start=1):
                index = position - offset
                assert row.cursor is not None
                forward_cursor = row.cursor.model_copy(update={"descending": forward_descending})
                if (index + 1) % self.block_size == 0 or offset == len(result.rows):
                    self._anchors[index + 1] = forward_cursor
                    self._back_anchors[index] = row.cursor
                if start <= index < end:
                    collected[index] = row.model_copy(update={"cursor": forward_cursor})
            position -= len(result.rows)
            if result.next_cursor is None:
                break
        return [collected[i] for i in sorted(collected)]
