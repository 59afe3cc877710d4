"""Every table shows text from outside as it is: markup in a title or name is not obeyed."""

from __future__ import annotations

import re
from pathlib import Path

from textual.app import App, ComposeResult

from shelver.widgets.text_table import TextTable

HOSTILE = ["[/b] Closing tag first", "[red on white]Loud[/]", "[link=http://x]click[/link]"]


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield TextTable(id="table")


async def test_markup_in_cells_is_shown_as_written_and_never_stops_the_app() -> None:
    app = TableApp()
    async with app.run_test(size=(80, 10)) as pilot:
        table = app.query_one(TextTable)
        table.add_columns("Title", "Device")
        table.add_row(HOSTILE[0], HOSTILE[1], key="a")
        table.add_rows([[HOSTILE[2], "Kobo"]])
        table.update_cell("a", table.ordered_columns[1].key, "[/]Kindle")
        await pilot.pause()
        painted = "\n".join(
            "".join(segment.text for segment in strip)
            for strip in app.screen._compositor.render_strips()
        )
        assert "[/b] Closing tag first" in painted
        assert "[link=http://x]click[/link]" in painted
        assert "[/]Kindle" in painted
        assert str(table.get_cell_at((0, 0))) == HOSTILE[0]


def test_no_screen_or_widget_makes_a_bare_datatable() -> None:
    """The class of the bug, not one table: every DataTable in the app is a TextTable."""
    root = Path(__file__).resolve().parents[1]
    bare = re.compile(r"yield DataTable\(|\(DataTable(\[.*\])?\):|= DataTable\(")
    offenders = [
        str(path.relative_to(root))
        for folder in ("screens", "widgets", "app")
        for path in (root / folder).rglob("*.py")
        if path.name != "text_table.py" and bare.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
