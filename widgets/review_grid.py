"""The Review screen's comparison grid: fields down the side, sources across.

The field names and the book's current values stay put; the candidates come a page at a time,
as many as fit without cutting an ISBN-13 (``page(±1)`` turns the page, wrapping; every page is
full: the last one ends at the last source), so every source is reachable at 80 columns and
nothing scrolls sideways leaving fragments behind. Cells
that differ from the current value are yellow, the chosen one is bold green with a tick, and a
row whose sources disagree is marked ``≠`` beside its name.
"""

from __future__ import annotations

from rich.cells import cell_len, set_cell_size
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

from shelver.data.confidence import Strength
from shelver.data.review_state import (
    CURRENT,
    EDITED,
    FIELD_NAMES,
    REVIEW_FIELDS,
    ReviewState,
    Source,
    cell_text,
)
from shelver.widgets.format import clip
from shelver.widgets.text_table import TextTable

FIELD_COLUMN_WIDTH = 9
MIN_COLUMN_WIDTH = 15
"""An ISBN-13 and the chosen tick: the narrowest a source column gets."""
MAX_COLUMN_WIDTH = 30
STRENGTH_STYLES = {
    Strength.STRONG: "bold green",
    Strength.MEDIUM: "yellow",
    Strength.WEAK: "red",
}
FIXED = 2
"""Columns that never page: the field names and the current values."""


class Cell:
    """One line of text in one style: what every body cell of the grid is. Rendered as a
    single segment, it costs a fraction of a ``Text`` (wrapping, spans), and the grid paints
    a hundred of them for each book."""

    __slots__ = ("style", "text")

    def __init__(self, text: str, style: str = "") -> None:
        self.text = text
        self.style = Style.parse(style) if style else Style.null()

    def __str__(self) -> str:
        return self.text

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Segment(set_cell_size(self.text, options.max_width), self.style)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        width = cell_len(self.text)
        return Measurement(width, width)


class ReviewGrid(TextTable):
    """A ``ReviewState`` as a grid, a page of sources at a time."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(
            id=id, cursor_type="cell", fixed_columns=FIXED, header_height=2, zebra_stripes=True
        )
        self.state: ReviewState | None = None
        self.first = 1
        """Index of the first source on the page (source 0, the current values, is fixed)."""
        self.per_page = 1

    # Layout -------------------------------------------------------------------------------

    def layout_for(self, width: int, sources: int) -> tuple[int, int]:
        """(sources per page, column width) for a grid ``width`` cells wide."""
        padding = 2 * self.cell_padding
        room = width - FIELD_COLUMN_WIDTH - padding - 1  # the scrollbar's column
        per_page = max(1, room // (MIN_COLUMN_WIDTH + padding) - 1)  # less the current column
        per_page = min(per_page, max(1, sources - 1))
        column = room // (per_page + 1) - padding
        return per_page, max(MIN_COLUMN_WIDTH, min(MAX_COLUMN_WIDTH, column))

    @property
    def page_label(self) -> str:
        """Which sources the page shows, e.g. "sources 2–4 of 9"; empty when all fit."""
        if self.state is None or self.per_page >= len(self.state.sources) - 1:
            return ""
        last = min(len(self.state.sources), self.first + self.per_page)
        return f"sources {self.first + 1}–{last} of {len(self.state.sources)}"

    def visible(self) -> list[int]:
        """Indices of the sources shown, in column order."""
        if self.state is None:
            return []
        end = min(len(self.state.sources), self.first + self.per_page)
        return [0, *range(self.first, end)]

    # Painting -----------------------------------------------------------------------------

    def show(self, state: ReviewState, *, keep_cursor: bool = True) -> None:
        """Paint ``state``; ``keep_cursor`` stays on the same field and source."""
        field, source = self.cursor_source() if keep_cursor and self.state else (0, 1)
        if isinstance(field, str):
            field = FIELD_NAMES.index(field)
        if not keep_cursor or self.state is not state:
            self.first = 1
        self.state = state
        self.repaint(field, source)

    def repaint(self, row: int | None = None, source: int | None = None) -> None:
        """Lay the grid out again for the current width (a resize, a new page, a pick)."""
        state = self.state
        if state is None:
            self.clear(columns=True)
            return
        if row is None or source is None:
            row_now, source_now = self.cursor_source()
            row = FIELD_NAMES.index(row_now) if row is None else row
            source = source_now if source is None else source
        width = self.size.width or self.app.size.width
        self.per_page, column_width = self.layout_for(width, len(state.sources))
        if source >= 1 and not self.first <= source < self.first + self.per_page:
            self.first = 1 + ((source - 1) // self.per_page) * self.per_page
        self.first = max(1, min(self.first, self.last_first))
        shown = self.visible()
        self.clear(columns=True)
        self.add_column(Text("Field\n", style="bold"), key="field", width=FIELD_COLUMN_WIDTH)
        for index in shown:
            source_ = state.sources[index]
            self.add_column(
                header(index, source_, column_width), key=source_.key, width=column_width
            )
        for name, label in REVIEW_FIELDS:
            chosen = state.chosen_key(name)
            marker = " ≠" if disagree(state, name) else ""
            cells: list[Cell | Text] = [
                Cell(clip(label, FIELD_COLUMN_WIDTH - len(marker)) + marker, "bold")
            ]
            for index in shown:
                source_ = state.sources[index]
                cells.append(cell(state, name, source_, chosen == source_.key, column_width))
            self.add_row(*cells, key=name)
        column = shown.index(source) + 1 if source in shown else 1
        self.move_cursor(row=min(row, len(FIELD_NAMES) - 1), column=column, animate=False)

    @property
    def last_first(self) -> int:
        """The first source of the last page: pages are always full, so the last one ends at
        the last source (a source added by an edit never stands alone on a page)."""
        if self.state is None:
            return 1
        return max(1, len(self.state.sources) - self.per_page)

    def page(self, delta: int) -> None:
        """The next (or previous) page of sources, wrapping; the cursor moves onto it."""
        state = self.state
        if state is None or len(state.sources) <= 1 + self.per_page:
            return
        last = self.last_first
        if delta > 0:
            self.first = 1 if self.first >= last else min(self.first + self.per_page, last)
        else:
            self.first = last if self.first <= 1 else max(1, self.first - self.per_page)
        row, _ = self.cursor_source()
        self.repaint(FIELD_NAMES.index(row), self.first)

    # Reading ------------------------------------------------------------------------------

    def cursor_source(self) -> tuple[str, int]:
        """(field, source index) under the cursor; the Field column counts as the chosen one."""
        state = self.state
        coordinate = self.cursor_coordinate
        name = FIELD_NAMES[min(coordinate.row, len(FIELD_NAMES) - 1)]
        shown = self.visible()
        if coordinate.column >= 1 and coordinate.column - 1 < len(shown):
            return name, shown[coordinate.column - 1]
        if state is None:
            return name, 0
        key = state.chosen_key(name)
        return name, next((i for i, s in enumerate(state.sources) if s.key == key), 0)


def disagree(state: ReviewState, name: str) -> bool:
    """Do the sources say different things for this field?"""
    values = {cell_text(s.values.get(name)) for s in state.sources} - {None}
    return len(values) > 1


def header(index: int, source: Source, width: int) -> Text:
    """Two lines: the source's number and short name; its confidence and strength."""
    text = Text(clip(f"{index + 1} {source.short}", width), "bold")
    text.append("\n")
    if source.key == CURRENT:
        text.append("now", "dim")
    elif source.key == EDITED:
        text.append("by hand", "dim")
    elif source.candidate is not None and source.candidate.source == "file":
        text.append("from file", "dim")
    elif source.confidence is not None and source.strength is not None:
        percent = f"{source.confidence * 100:.0f}% "
        text.append(percent, "dim")
        text.append(
            clip(source.strength.value, width - len(percent)), STRENGTH_STYLES[source.strength]
        )
    return text


def cell(state: ReviewState, name: str, source: Source, chosen: bool, width: int) -> Cell:
    """One value: ticked and green when chosen, yellow when it differs from the current one."""
    value = cell_text(source.values.get(name))
    mark = "✓ " if chosen else ""
    if value is None:
        return Cell(mark + "—", "bold green" if chosen else "dim")
    style = "yellow" if state.differs(name, source) else ""
    if chosen:
        style = "bold green"
    return Cell(mark + clip(value, width - len(mark)), style)
