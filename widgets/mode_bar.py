"""The top line of every screen: the app's name and its five screens, the current one lit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.widget import Widget


@dataclass(frozen=True)
class ModeTab:
    """One top-level screen as the bar shows it."""

    mode: str
    """The app mode it switches to."""
    label: str
    """The name shown (the screen's title)."""
    key: str
    """The key that opens it from anywhere."""


MODE_TABS: tuple[ModeTab, ...] = (
    ModeTab("inbox", "Inbox", "i"),
    ModeTab("review", "Review", "r"),
    ModeTab("library", "Library", "l"),
    ModeTab("progress", "Reading progress", "p"),
    ModeTab("settings", "Settings", "s"),
)


HINTS = (
    ("? keys ", "app.show_keys"),
    ("^p commands ", "app.command_palette"),
    ("q quit ", "app.quit"),
)


class ModeBar(Widget):
    """Shows where you are and how to get anywhere else (clicks work, keys are quicker)."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "mode-bar--brand",
        "mode-bar--tab",
        "mode-bar--active",
        "mode-bar--key",
    }

    DEFAULT_CSS = """
    ModeBar {
        dock: top;
        height: 1;
        width: 1fr;
        background: $panel;
        color: $text-muted;
        link-style: none;  /* the tabs are clickable, but should not look like web links */
        link-style-hover: bold;
        link-background-hover: $boost;
    }
    ModeBar > .mode-bar--brand { background: $primary; color: $text; text-style: bold; }
    ModeBar > .mode-bar--tab { color: $text-muted; }
    ModeBar > .mode-bar--active { background: $accent; color: $text; text-style: bold; }
    ModeBar > .mode-bar--key { text-style: underline; }
    """

    def __init__(self, current: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.current = current

    def render(self) -> Text:
        brand = self.get_component_rich_style("mode-bar--brand")
        tab_style = self.get_component_rich_style("mode-bar--tab")
        active_style = self.get_component_rich_style("mode-bar--active")
        key_style = self.get_component_rich_style("mode-bar--key", partial=True)
        bar = Text(no_wrap=True, overflow="ellipsis")
        bar.append(" shelver ", style=brand)
        for tab in MODE_TABS:
            bar.append(" ")
            style = active_style if tab.mode == self.current else tab_style
            click = Style.from_meta({"@click": f"app.switch_mode({tab.mode!r})"})
            label = Text(f" {tab.label} ", style=style + click)
            # Underline the letter that opens the screen (each label starts with its key).
            if tab.label.lower().startswith(tab.key):
                label.stylize(key_style, 1, 2)
            bar.append_text(label)
        # The keys that work everywhere, as many as fit: ? lists the screen's keys (and names
        # ctrl+p), q quits.
        room = self.size.width - bar.cell_len
        for hints in (HINTS, HINTS[:1] + HINTS[2:], HINTS[:1]):
            width = sum(len(text) for text, _ in hints)
            if room >= width:
                bar.append(" " * (room - width))
                for text, action in hints:
                    click = Style.from_meta({"@click": action})
                    bar.append(text, style=self.get_component_rich_style("mode-bar--tab") + click)
                break
        return bar
