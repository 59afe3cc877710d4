"""Helpers for driving the real ShelverApp under Pilot."""

from __future__ import annotations

import gc
import io

from rich.console import Console
from rich.text import Text
from textual.content import Content
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from shelver.app.shelver_app import ShelverApp
from shelver.data.db import DatabaseTarget
from shelver.data.home import Home
from shelver.data.settings import Settings

SIZE = (80, 24)


def collectable(obj: object) -> bool:
    """In one of the garbage collector's generations (what the app set aside is in none)."""
    return any(tracked is obj for tracked in gc.get_objects())


def make_app(home: Home, dsn: str) -> ShelverApp:
    return ShelverApp(home=home, settings=Settings(), target=DatabaseTarget(dsn=dsn))


async def settle(pilot: Pilot) -> None:
    """Wait until every worker (database opening, row loading) is done and painted."""
    app = pilot.app
    assert isinstance(app, ShelverApp)
    for _ in range(5):
        await pilot.pause()
        await app.finish_work()
    await pilot.pause()


def plain(content: object) -> str:
    """Any Static content (markup string, Content, Rich renderable) as plain text."""
    if isinstance(content, str):
        return Content.from_markup(content).plain
    if isinstance(content, Content | Text):
        return content.plain
    console = Console(width=200, record=True, file=io.StringIO(), color_system=None)
    console.print(content)
    return console.export_text()


def screen_text(app: ShelverApp) -> str:
    """Everything the current screen shows in its heading, tables and notes, as plain text."""
    parts: list[str] = []
    screen = app.screen
    for static in screen.query(Static):
        if static.display:
            parts.append(plain(static.content))
    for table in screen.query(DataTable):
        if table.display:
            for row in range(table.row_count):
                parts.append(" | ".join(str(cell) for cell in table.get_row_at(row)))
            parts.extend(str(column.label) for column in table.columns.values())
    parts.extend(book_table_text(screen))
    return "\n".join(parts)


def book_table_text(screen: object) -> list[str]:
    """The header and loaded rows of every shown BookTable (the Library's virtual table)."""
    from shelver.widgets.book_table import BookTable

    parts: list[str] = []
    for table in screen.query(BookTable):  # type: ignore[attr-defined]
        if not table.display:
            continue
        parts.append(" | ".join(column.label for column in table.columns))
        for index in range(table.total):
            row = table.row_at(index)
            if row is not None:
                cells = (c.render(row) for c in table.columns)
                parts.append(" | ".join(c if isinstance(c, str) else c.plain for c in cells))
    return parts


CONTROL_CHARACTERS = {"ctrl+u": "\x15", "ctrl+w": "\x17", "backspace": "\x7f", "enter": "\r"}


def burst(app: ShelverApp, *keys: str) -> None:
    """Keys arriving in one read from the terminal: the driver posts them all to the app at
    once, with no pause for any to be handled (``pilot.press`` waits after each key)."""
    from textual import events

    for key in keys:
        character = key if len(key) == 1 else CONTROL_CHARACTERS.get(key)
        app.post_message(events.Key(key, character))
