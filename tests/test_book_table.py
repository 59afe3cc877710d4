"""The virtual BookTable in a tiny app: only visible blocks load, keys move the cursor,
messages go up, and a reload keeps the cursor on the same book."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from textual.app import App, ComposeResult

from shelver.widgets.book_table import BookTable, Column, settle


@dataclass(frozen=True)
class FakeBook:
    id: int
    title: str
    author: str


class FakeSource:
    """An in-memory list that counts how it is read."""

    def __init__(self, size: int) -> None:
        self.books = [FakeBook(i, f"Book {i:05d}", f"Author {i % 37}") for i in range(size)]
        self.fetches: list[tuple[int, int]] = []
        self.counts = 0

    async def count(self) -> int:
        self.counts += 1
        return len(self.books)

    async def fetch(self, start: int, count: int) -> list[FakeBook]:
        self.fetches.append((start, count))
        return self.books[start : start + count]

    async def locate(self, key: int) -> int | None:
        for index, book in enumerate(self.books):
            if book.id == key:
                return index
        return None


COLUMNS = [
    Column("Title", lambda b: b.title),
    Column("Author", lambda b: b.author, width=12),
]


class TableApp(App):
    def __init__(self, source: FakeSource) -> None:
        super().__init__()
        self.source = source
        self.moved: list[tuple[int, int | None]] = []
        self.selected: list[int] = []
        self.marks: list[frozenset] = []
        self.totals: list[int] = []

    def compose(self) -> ComposeResult:
        yield BookTable(COLUMNS, self.source, id="table")

    def on_mount(self) -> None:
        table = self.query_one(BookTable)
        table.focus()
        table.reload(keep_cursor=False)

    def on_book_table_cursor_moved(self, message: BookTable.CursorMoved) -> None:
        if type(message) is BookTable.CursorMoved:
            self.moved.append((message.index, message.row.id if message.row else None))

    def on_book_table_row_selected(self, message: BookTable.RowSelected) -> None:
        self.selected.append(message.row.id)

    def on_book_table_selection_changed(self, message: BookTable.SelectionChanged) -> None:
        self.marks.append(message.keys)

    def on_book_table_counted(self, message: BookTable.Counted) -> None:
        self.totals.append(message.total)


def visible_text(table: BookTable) -> list[str]:
    return [table.render_line(y).text for y in range(table.scrollable_content_region.height)]


async def test_only_visible_rows_load_and_render():
    source = FakeSource(5_000)
    app = TableApp(source)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(BookTable)
        await settle(table)
        await pilot.pause()
        assert table.total == 5_000
        assert app.totals == [5_000]
        assert table.loaded_rows <= 2 * BookTable.BLOCK_SIZE
        lines = visible_text(table)
        assert "Title" in lines[0] and "Author" in lines[0]
        assert "Book 00000" in lines[1]
        assert "Book 00022" in lines[-1]  # 24 lines: header and 23 rows
        assert app.moved[-1] == (0, 0)


async def test_keys_move_the_cursor_and_messages_follow():
    source = FakeSource(1_500)
    app = TableApp(source)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(BookTable)
        await settle(table)
        await pilot.press("down", "down", "j")
        await settle(table)
        await pilot.pause()
        assert table.cursor_index == 3
        assert app.moved[-1] == (3, 3)
        await pilot.press("k")
        assert table.cursor_index == 2
        await pilot.press("pagedown")
        await settle(table)
        page = table.cursor_index - 2
        assert page >= 20
        await pilot.press("end")
        await settle(table)
        await pilot.pause()
        assert table.cursor_index == 1_499
        assert table.cursor_row.id == 1_499
        assert "Book 01499" in visible_text(table)[-1]
        # the blocks in between were never fetched
        assert table.loaded_rows <= 4 * BookTable.BLOCK_SIZE
        await pilot.press("pageup")
        assert table.cursor_index == 1_499 - page
        await pilot.press("home")
        await settle(table)
        assert table.cursor_index == 0
        await pilot.press("up")
        assert table.cursor_index == 0
        await pilot.press("enter")
        await pilot.pause()
        assert app.selected == [0]


async def test_scrolling_top_to_bottom_keeps_memory_bounded():
    source = FakeSource(3_000)
    app = TableApp(source)
    async with app.run_test(size=(80, 30)) as pilot:
        table = app.query_one(BookTable)
        await settle(table)
        seen = set()
        while table.cursor_index < table.total - 1:
            await pilot.press("pagedown")
            await settle(table)
            row = table.cursor_row
            assert row is not None and row.id == table.cursor_index
            seen.add(row.id)
            assert len(table._blocks) <= BookTable.KEEP_BLOCKS
        await pilot.pause()
        assert table.cursor_index == 2_999
        assert "Book 02999" in visible_text(table)[-1]
        assert len(seen) > 2_900 / 30
        # each block was fetched about once on the way down
        assert len(source.fetches) <= 3_000 / BookTable.BLOCK_SIZE + 5


async def test_mouse_wheel_scroll_fetches_ahead():
    source = FakeSource(2_000)
    app = TableApp(source)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(BookTable)
        await settle(table)
        table.scroll_to(y=950, animate=False)
        await pilot.pause()
        await settle(table)
        await pilot.pause()
        lines = visible_text(table)
        assert "Book 00950" in lines[1]
        assert all("…" not in line for line in lines[1:])


async def test_marking_rows_for_bulk_edits():
    source = FakeSource(1_200)
    app = TableApp(source)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(BookTable)
        await settle(table)
        await pilot.press("space", "space", "down", "space")
        await pilot.pause()
        assert table.marked == {0, 1, 3}
        assert app.marks[-1] == frozenset({0, 1, 3})
        assert visible_text(table)[1].startswith("●")
        await pilot.press("up", "up", "up", "space")
        assert table.marked == {0, 3}
        table.clear_marks()
        assert table.marked == set()


@pytest.mark.parametrize("inserted", [0, 10, 250])
async def test_reload_keeps_the_cursor_on_the_same_book(inserted):
    source = FakeSource(1_000)
    app = TableApp(source)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(BookTable)
        await settle(table)
        table.move_cursor(420)
        await settle(table)
        assert table.cursor_row.id == 420
        new = [FakeBook(10_000 + i, f"New {i}", "x") for i in range(inserted)]
        source.books[0:0] = new
        table.reload()
        await settle(table)
        await pilot.pause()
        assert table.total == 1_000 + inserted
        assert table.cursor_index == 420 + inserted
        assert table.cursor_row.id == 420
        assert app.moved[-1] == (420 + inserted, 420)


async def test_reload_when_the_book_is_gone_stays_near():
    source = FakeSource(1_000)
    app = TableApp(source)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(BookTable)
        await settle(table)
        table.move_cursor(500)
        await settle(table)
        del source.books[500]
        table.reload()
        await settle(table)
        await pilot.pause()
        assert table.cursor_index == 500
        assert table.cursor_row.id == 501


async def test_a_new_source_starts_at_the_top():
    app = TableApp(FakeSource(1_000))
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(BookTable)
        await settle(table)
        await pilot.press("end")
        await settle(table)
        table.set_source(FakeSource(3))
        await settle(table)
        await pilot.pause()
        assert table.total == 3
        assert table.cursor_index == 0
        await pilot.press("end")
        assert table.cursor_index == 2
        lines = visible_text(table)
        assert "Book 00002" in lines[3]
        assert lines[4].strip() == ""


async def test_empty_source():
    app = TableApp(FakeSource(0))
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(BookTable)
        await settle(table)
        await pilot.press("down", "end", "enter", "space")
        assert table.total == 0
        assert table.cursor_row is None
        assert app.selected == []


class BrokenSource(FakeSource):
    async def fetch(self, start: int, count: int) -> list[FakeBook]:
        raise ConnectionError("database went away")


async def test_a_failing_source_is_reported_not_fatal():
    failures: list[BaseException] = []

    class FailingApp(TableApp):
        def on_book_table_load_failed(self, message: BookTable.LoadFailed) -> None:
            failures.append(message.error)

    app = FailingApp(BrokenSource(500))
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(BookTable)
        await settle(table)
        await pilot.pause()
        await pilot.press("down", "end")
        await settle(table)
        await pilot.pause()
        assert failures and isinstance(failures[0], ConnectionError)
        assert table.total == 500
        assert table.cursor_row is None
        assert app.is_running
