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

from shelver.data import library
from shelver.data.books import Executor
from shelver.data.library_models import (
    LibraryPage,
    LibraryQuery,
    LibraryRow,
    LibrarySort,
    PageCursor,
)

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
        elif first.total is not None:
            self._total = first.total  # the search counted its matches already
        return first

    async def count(self) -> int:
        """How many rows the list has (one count query at most, often none)."""
        if self._total is None:
            tsquery = await self._query_text()
            if tsquery and self.query.sort is LibrarySort.RELEVANCE:
                await self._first_page()  # a search's first page counts its matches
            if self._total is None:
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
        while position < start and self._anchors[position] is not None:
            # Walking to a far block: keys only, keeping an anchor at each block boundary.
            # (From the very top there is no cursor to skip from: plain pages do it.)
            step = min(start - position, self.walk_page)
            marks = await library.skip(
                self.db,
                self.query,
                self._anchors[position],
                step,
                first_mark=self.block_size - position % self.block_size,
                every=self.block_size,
                tsquery=tsquery,
            )
            for offset, cursor in marks:
                self._anchors[position + offset] = cursor
            if not marks or marks[-1][0] < step:
                return []  # the list ended before start
            position += marks[-1][0]
        wanted: list[LibraryRow] = []
        while position < end:
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
        """Walk back from the known position ``back`` (keys only) until the row before
        ``start`` is reached, leaving forward anchors on the way; then read forward."""
        first_cursor = (await self._first_page()).rows[0].cursor
        assert first_cursor is not None
        forward_descending = first_cursor.descending
        reversed_query = self.query.model_copy(
            update={"sort": first_cursor.ordered_by, "descending": not forward_descending}
        )
        tsquery = await self._query_text()
        position = back  # rows before this index are still to walk over
        while position > start and start not in self._anchors:
            step = min(position - (start - 1), self.walk_page)
            first_mark = (position + 1) % self.block_size or self.block_size
            marks = await library.skip(
                self.db,
                reversed_query,
                self._back_anchors[position],
                step,
                first_mark=first_mark,
                every=self.block_size,
                tsquery=tsquery,
            )
            for offset, cursor in marks:
                index = position - offset
                forward = cursor.model_copy(update={"descending": forward_descending})
                self._anchors[index + 1] = forward
                self._back_anchors[index] = cursor
            if not marks:
                break
            position -= marks[-1][0]
            if marks[-1][0] < step:
                break
        if start not in self._anchors:  # the count was stale: read from the nearest anchor
            known = max(i for i in self._anchors if i <= start)
            return await self._forward(start, end, walk_from=known)
        return await self._forward(start, end)
