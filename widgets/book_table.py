"""A virtual table for very long lists: only visible rows are rendered, rows arrive in blocks.

Built like Textualize's Toolong log view: a ``ScrollView`` whose virtual height is the row
count, ``render_line`` draws one line at a time from a cache of rendered strips, and blocks of
rows are fetched through the ``RowSource`` callbacks just ahead of the scroll. A 100,000-row
list costs what the screen shows plus a few blocks, not 100,000 widgets or cells.

Attributes down, messages up: the owner gives a source (``set_source``) and columns; the table
posts ``CursorMoved`` (also once the row under the cursor has arrived), ``RowSelected`` on
Enter, ``SelectionChanged`` when space marks rows, ``Counted`` when the total is known and
``LoadFailed`` when the source raised (the table never crashes the app for it).
``reload()`` refetches and keeps the cursor on the same row (by key) when it still exists.

A screen puts it over the Library like this (``data.library_window.LibraryWindow`` is a
``RowSource``; typing runs an exclusive worker, so an older search never lands after a newer)::

    yield BookTable([Column("Title", lambda r: r.title or ""),
                     Column("Author", lambda r: r.author or "", width=24)], id="books")

    @work(exclusive=True, group="library-search")
    async def search(self, text: str) -> None:
        window = LibraryWindow(self.database.pool, LibraryQuery(text=text))
        await window.fetch(0, BookTable.BLOCK_SIZE)  # rows ready before the swap
        self.query_one(BookTable).set_source(window)

After an edit, ``set_source(LibraryWindow(...), keep_cursor=True)`` keeps the cursor on the
edited book even when its new title moves it elsewhere in the list.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar, Protocol

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip


class RowSource(Protocol):
    """Where a ``BookTable`` gets rows. ``locate`` may return None when it cannot tell."""

    async def count(self) -> int: ...

    async def fetch(self, start: int, count: int) -> Sequence[Any]: ...

    async def locate(self, key: Any) -> int | None: ...


@dataclass(frozen=True)
class Column:
    """One column: a label, a width (None: share what is left, at least ``min_width``), and
    how to turn a row into cell text."""

    label: str
    render: Callable[[Any], str | Text]
    width: int | None = None
    min_width: int = 8
    justify: str = "left"


def _row_key(row: Any) -> Hashable:
    return row.id


class BookTable(ScrollView, can_focus=True):
    """A keyboard-driven virtual table over a ``RowSource``."""

    BLOCK_SIZE: ClassVar[int] = 100
    """Rows per fetch."""
    KEEP_BLOCKS: ClassVar[int] = 40
    """Blocks kept in memory; the farthest from the cursor go first."""
    AHEAD: ClassVar[int] = 1
    """Blocks fetched beyond the visible ones, in each direction."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False, id="book_table.up"),
        Binding("down,j", "cursor_down", "Down", show=False, id="book_table.down"),
        Binding("pageup", "page_up", "Page up", show=False, id="book_table.page_up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="book_table.page_down"),
        Binding("home", "first", "First", show=False, id="book_table.first"),
        Binding("end", "last", "Last", show=False, id="book_table.last"),
        Binding("enter", "select", "Open", id="book_table.select"),
        Binding("space", "toggle_mark", "Mark", id="book_table.mark"),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "book-table--header",
        "book-table--cursor",
        "book-table--marked",
        "book-table--loading",
    }

    DEFAULT_CSS = """
    BookTable {
        height: 1fr;
        scrollbar-size-vertical: 1;
        overflow-x: hidden;
    }
    BookTable > .book-table--header { text-style: bold; background: $panel; }
    BookTable > .book-table--cursor { background: $accent 40%; }
    BookTable:focus > .book-table--cursor { background: $accent; color: $text; }
    BookTable > .book-table--marked { color: $warning; }
    BookTable > .book-table--loading { color: $text-muted; }
    """

    cursor_index: reactive[int] = reactive(0, init=False)
    """Index of the row under the cursor."""

    class CursorMoved(Message):
        """The cursor is on another row, or the row under it has just arrived."""

        def __init__(self, table: BookTable, index: int, row: Any | None) -> None:
            super().__init__()
            self.table = table
            self.index = index
            self.row = row

        @property
        def control(self) -> BookTable:
            return self.table

    class RowSelected(CursorMoved):
        """Enter was pressed on a loaded row."""

    class SelectionChanged(Message):
        """Rows were marked or unmarked with space."""

        def __init__(self, table: BookTable, keys: frozenset[Hashable]) -> None:
            super().__init__()
            self.table = table
            self.keys = keys

        @property
        def control(self) -> BookTable:
            return self.table

    class LoadFailed(Message):
        """Counting or fetching rows failed; the table keeps what it had."""

        def __init__(self, table: BookTable, error: BaseException) -> None:
            super().__init__()
            self.table = table
            self.error = error

        @property
        def control(self) -> BookTable:
            return self.table

    class Counted(Message):
        """The total number of rows is known."""

        def __init__(self, table: BookTable, total: int) -> None:
            super().__init__()
            self.table = table
            self.total = total

        @property
        def control(self) -> BookTable:
            return self.table

    def __init__(
        self,
        columns: Sequence[Column],
        source: RowSource | None = None,
        *,
        row_key: Callable[[Any], Hashable] = _row_key,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns = list(columns)
        self.row_key = row_key
        self.source = source
        self.total = 0
        self.counted = False
        self.marked: set[Hashable] = set()
        self._blocks: OrderedDict[int, list[Any]] = OrderedDict()
        self._pending: set[int] = set()
        self._generation = 0
        self._lines: LRUCache[tuple, Strip] = LRUCache(1024)
        self._widths: list[int] = []
        self._announced: tuple[int, Hashable] | None = None
        self._restore_key: Hashable | None = None
        self._asked = False

    # ---- the owner's side ---------------------------------------------------------------

    def set_source(self, source: RowSource, *, keep_cursor: bool = False) -> None:
        """Show another list (a new search, sort or filter); the cursor goes to the top
        unless ``keep_cursor`` and the same row is in the new list."""
        self.source = source
        self.reload(keep_cursor=keep_cursor)

    def reload(self, *, keep_cursor: bool = True) -> None:
        """Refetch everything (after edits); the cursor stays on the same row when it can."""
        current = self.row_at(self.cursor_index)
        self._restore_key = self.row_key(current) if keep_cursor and current is not None else None
        self._generation += 1
        self.workers.cancel_group(self, "book-table-fetch")
        self._blocks.clear()
        self._pending.clear()
        self._lines.clear()
        self._announced = None
        self.counted = False
        if not keep_cursor:
            self.cursor_index = 0
            self.scroll_to(y=0, animate=False)
        if self.source is not None:
            # A partial, not a coroutine: an exclusive worker cancelled before it starts
            # must not leave a never-awaited coroutine behind.
            self.run_worker(
                partial(self._count, self._generation, self.cursor_index),
                group="book-table-count",
                exclusive=True,
                exit_on_error=False,
            )
            self._request_visible()

    def row_at(self, index: int) -> Any | None:
        """The row at ``index`` when it is loaded."""
        block = self._blocks.get(index // self.BLOCK_SIZE)
        if block is None:
            return None
        offset = index % self.BLOCK_SIZE
        return block[offset] if offset < len(block) else None

    @property
    def cursor_row(self) -> Any | None:
        return self.row_at(self.cursor_index)

    @property
    def loaded_rows(self) -> int:
        return sum(len(b) for b in self._blocks.values())

    def move_cursor(self, index: int) -> None:
        self.cursor_index = max(0, min(index, max(0, self.total - 1)))

    # ---- loading --------------------------------------------------------------------------

    async def _count(self, generation: int, keep_index: int) -> None:
        try:
            await self._count_and_restore(generation, keep_index)
        except Exception as error:  # the owner shows it; the app must not fall over
            if generation == self._generation:
                self.post_message(self.LoadFailed(self, error))

    async def _count_and_restore(self, generation: int, keep_index: int) -> None:
        assert self.source is not None
        total = await self.source.count()
        if generation != self._generation:
            return
        self._set_total(total, final=True)
        self.post_message(self.Counted(self, total))
        key, self._restore_key = self._restore_key, None
        if key is None:
            return
        index = min(keep_index, max(0, total - 1))
        await self._load_block(generation, index // self.BLOCK_SIZE)
        row = self.row_at(index)
        if row is None or self.row_key(row) != key:
            found = await self.source.locate(key)
            if generation != self._generation:
                return
            if found is not None:
                index = found
        self.move_cursor(index)
        self._scroll_cursor_into_view(center=True)
        self._request_visible()

    def _set_total(self, total: int, *, final: bool) -> None:
        if final:
            self.counted = True
        elif self.counted or total <= self.total:
            return
        self.total = total
        self.virtual_size = Size(self.size.width, total + 1)
        if self.cursor_index >= total:
            self.move_cursor(total - 1)
        self._lines.clear()
        self.refresh()

    def _request_visible(self) -> None:
        self._asked = False
        if self.source is None:
            return
        top = int(self.scroll_offset.y)
        height = max(1, self.scrollable_content_region.height - 1)
        first = max(0, top // self.BLOCK_SIZE - self.AHEAD)
        last = (top + height) // self.BLOCK_SIZE + self.AHEAD
        if self.counted:
            last = min(last, max(0, (self.total - 1) // self.BLOCK_SIZE))
        else:
            last = min(last, first + self.AHEAD)
        for block in range(first, last + 1):
            if block not in self._blocks and block not in self._pending:
                self._pending.add(block)
                self.run_worker(
                    partial(self._load_block, self._generation, block),
                    group="book-table-fetch",
                    exit_on_error=False,
                )

    async def _load_block(self, generation: int, block: int) -> None:
        if block in self._blocks or self.source is None:
            return
        try:
            rows = list(await self.source.fetch(block * self.BLOCK_SIZE, self.BLOCK_SIZE))
        except Exception as error:
            if generation == self._generation:
                self.post_message(self.LoadFailed(self, error))
            return
        finally:
            self._pending.discard(block)
        if generation != self._generation:
            return
        self._blocks[block] = rows
        self._evict()
        if not self.counted:
            # The total is not known yet: grow to what has arrived (one more page if full).
            extra = 1 if len(rows) == self.BLOCK_SIZE else 0
            self._set_total(block * self.BLOCK_SIZE + len(rows) + extra, final=False)
        self._lines.clear()
        self.refresh()
        self._announce()

    def _evict(self) -> None:
        if len(self._blocks) <= self.KEEP_BLOCKS:
            return
        cursor_block = self.cursor_index // self.BLOCK_SIZE
        farthest = sorted(self._blocks, key=lambda b: abs(b - cursor_block), reverse=True)
        for block in farthest[: len(self._blocks) - self.KEEP_BLOCKS]:
            del self._blocks[block]

    def _announce(self) -> None:
        """Tell the owner about the row under the cursor once per (index, row)."""
        row = self.cursor_row
        key = self.row_key(row) if row is not None else None
        if self._announced != (self.cursor_index, key):
            self._announced = (self.cursor_index, key)
            self.post_message(self.CursorMoved(self, self.cursor_index, row))

    # ---- cursor and scrolling -----------------------------------------------------------

    def watch_cursor_index(self, old: int, new: int) -> None:
        self._lines.clear()
        self._scroll_cursor_into_view()
        self.refresh()
        self._request_visible()
        self._announce()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._request_visible()

    def _scroll_cursor_into_view(self, *, center: bool = False) -> None:
        height = max(1, self.scrollable_content_region.height - 1)
        top = int(self.scroll_offset.y)
        index = self.cursor_index
        if center:
            self.scroll_to(y=max(0, index - height // 2), animate=False)
        elif index < top:
            self.scroll_to(y=index, animate=False)
        elif index >= top + height:
            self.scroll_to(y=index - height + 1, animate=False)

    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - 2)

    def action_cursor_up(self) -> None:
        self.move_cursor(self.cursor_index - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self.cursor_index + 1)

    def action_page_up(self) -> None:
        self.move_cursor(self.cursor_index - self._page())

    def action_page_down(self) -> None:
        self.move_cursor(self.cursor_index + self._page())

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor(self.total - 1)

    def action_select(self) -> None:
        row = self.cursor_row
        if row is not None:
            self.post_message(self.RowSelected(self, self.cursor_index, row))

    def action_toggle_mark(self) -> None:
        row = self.cursor_row
        if row is None:
            return
        key = self.row_key(row)
        self.marked.symmetric_difference_update({key})
        self._lines.clear()
        self.refresh()
        self.post_message(self.SelectionChanged(self, frozenset(self.marked)))
        self.action_cursor_down()

    def clear_marks(self) -> None:
        self.marked.clear()
        self._lines.clear()
        self.refresh()
        self.post_message(self.SelectionChanged(self, frozenset()))

    async def _on_click(self, event: events.Click) -> None:
        index = int(self.scroll_offset.y) + event.y - 1
        if event.y >= 1 and 0 <= index < self.total:
            self.move_cursor(index)

    # ---- rendering ----------------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        self._lines.clear()
        self._widths = []
        self.virtual_size = Size(event.size.width, self.total + 1)
        self._request_visible()

    def _column_widths(self, width: int) -> list[int]:
        if len(self._widths) == len(self.columns) and sum(self._widths) == width:
            return self._widths
        gaps = len(self.columns)  # one space before each column (the mark gutter is first)
        fixed = sum(c.width for c in self.columns if c.width is not None)
        flexible = [c for c in self.columns if c.width is None]
        spare = max(0, width - fixed - gaps - 1)
        share = spare // len(flexible) if flexible else 0
        widths = []
        for column in self.columns:
            if column.width is not None:
                widths.append(column.width)
            else:
                widths.append(max(column.min_width, share))
        if flexible:  # give the rounding remainder to the first flexible column
            first = next(i for i, c in enumerate(self.columns) if c.width is None)
            widths[first] += max(0, spare - share * len(flexible))
        self._widths = widths
        return widths

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y == 0:
            key: tuple = ("header", width)
            strip = self._lines.get(key)
            if strip is None:
                strip = self._render_cells(
                    [Text(c.label) for c in self.columns],
                    width,
                    self.get_component_rich_style("book-table--header"),
                    mark=" ",
                )
                self._lines[key] = strip
            return strip
        index = int(self.scroll_offset.y) + y - 1
        if index >= self.total:
            return Strip.blank(width, self.rich_style)
        row = self.row_at(index)
        is_cursor = index == self.cursor_index
        if row is None:
            block = index // self.BLOCK_SIZE
            if block not in self._pending and self.source is not None and not self._asked:
                self._asked = True  # one request per frame, not one per empty line
                self.call_later(self._request_visible)
            style = self.get_component_rich_style("book-table--loading")
            if is_cursor:
                style += self.get_component_rich_style("book-table--cursor")
            return self._render_cells([Text("…")], width, style, mark=" ")
        row_key = self.row_key(row)
        marked = row_key in self.marked
        key = ("row", index, row_key, width, is_cursor, marked)
        strip = self._lines.get(key)
        if strip is None:
            style = self.rich_style
            if marked:
                style += self.get_component_rich_style("book-table--marked")
            if is_cursor:
                style += self.get_component_rich_style("book-table--cursor")
            cells = []
            for column in self.columns:
                value = column.render(row)
                cells.append(value if isinstance(value, Text) else Text(str(value)))
            strip = self._render_cells(cells, width, style, mark="●" if marked else " ")
            self._lines[key] = strip
        return strip

    def _render_cells(self, cells: list[Text], width: int, style: Style, *, mark: str) -> Strip:
        widths = self._column_widths(width)
        segments = [Segment(mark, style)]
        for column, cell, cell_width in zip(self.columns, cells, widths, strict=False):
            cell = cell.copy()
            cell.no_wrap = True
            cell.overflow = "ellipsis"
            cell.truncate(cell_width, overflow="ellipsis", pad=True)
            if column.justify == "right":
                cell.align("right", cell_width)
            segments.append(Segment(" ", style))
            segments.extend(
                Segment(seg.text, style + seg.style if seg.style else style)
                for seg in cell.render(self.app.console)
                if seg.text != "\n"
            )
        return Strip(segments).adjust_cell_length(width, style)


async def settle(table: BookTable, *, timeout: float = 5.0) -> None:
    """Wait until the table has no fetch or count in flight (for tests and benchmarks)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        busy = [
            w
            for w in table.workers
            if w.node is table
            and w.group in ("book-table-fetch", "book-table-count")
            and not w.is_finished
        ]
        if not busy and not table._pending:
            return
        await asyncio.sleep(0.005)
    raise TimeoutError("the table kept loading")
