"""A book's cover on the Review screen: a picture where the terminal can show one (Sixel or the
kitty graphics protocol, through textual-image), always with a readable line of text (size,
format, where it is) so a plain terminal or an SSH session still says what the cover is.

textual-image asks the terminal what it supports, which only works before Textual starts:
``probe_graphics()`` is called by the CLI just before the app runs. Without that probe (tests,
or a terminal that is not a tty) the text alone is shown.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Static

_picture_widget: Any = None
"""textual-image's widget class when the terminal shows real pictures, else None."""


# Terminals known to show pictures (Sixel or the kitty protocol). Asking the terminal costs a
# tenth of a second at start-up, so only these (or SHELVER_PICTURES=1) are asked at all.
GRAPHICS_HINTS = (
    ("TERM", ("kitty", "foot", "mlterm", "wezterm", "contour")),
    ("TERM_PROGRAM", ("WezTerm", "iTerm.app", "ghostty", "konsole", "contour")),
)
GRAPHICS_VARIABLES = ("KITTY_WINDOW_ID", "WEZTERM_EXECUTABLE", "KONSOLE_VERSION")
PICTURES_ENV = "SHELVER_PICTURES"


def terminal_may_show_pictures(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the terminal is worth asking about pictures (``SHELVER_PICTURES=0|1`` decides)."""
    environ = os.environ if environ is None else environ
    choice = environ.get(PICTURES_ENV)
    if choice in {"0", "1"}:
        return choice == "1"
    if any(environ.get(name) for name in GRAPHICS_VARIABLES):
        return True
    return any(
        hint.lower() in environ.get(name, "").lower()
        for name, hints in GRAPHICS_HINTS
        for hint in hints
    )


def probe_graphics() -> bool:
    """Find out (once, before the app starts) whether the terminal shows pictures."""
    global _picture_widget
    stdout = sys.__stdout__
    if _picture_widget is not None or stdout is None or not stdout.isatty():
        return _picture_widget is not None
    if not terminal_may_show_pictures():
        return False
    try:
        from textual_image import renderable
        from textual_image.renderable.sixel import Image as SixelImage
        from textual_image.renderable.tgp import Image as TGPImage

        if renderable.Image in (SixelImage, TGPImage):
            from textual_image.widget import Image

            _picture_widget = Image
    except Exception:  # a terminal that answers oddly just gets the text
        _picture_widget = None
    return _picture_widget is not None


def describe_cover(path: str | None, url: str | None) -> Text:
    """One readable description of the cover: the local picture's size and place, its address,
    or that there is none."""
    text = Text()
    if path:
        file = Path(path)
        try:
            from PIL import Image as PILImage

            with PILImage.open(file) as image:
                width, height, kind = image.width, image.height, image.format or "image"
            size = file.stat().st_size
            text.append(f"{width}×{height} {kind}, {size / 1024:.0f} KB", "bold")
            text.append(f"  {file}", "dim")
        except (OSError, ValueError, ImportError):
            text.append("cover file unreadable", "red")
            text.append(f"  {file}", "dim")
    if url:
        if text:
            text.append("\n")
        text.append("address: ", "dim")
        text.append(url)
    if not text:
        text.append("no cover", "dim italic")
    return text


class CoverView(Widget):
    """The cover picture (where possible) beside its description."""

    DEFAULT_CSS = """
    CoverView { height: auto; max-height: 100%; }
    CoverView Horizontal { height: auto; }
    CoverView .cover-picture { width: 12; height: 8; margin-right: 1; }
    CoverView .cover-text { width: 1fr; height: auto; }
    """

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Static(classes="cover-text")

    def show(self, path: str | None, url: str | None) -> bool:
        """Describe the cover and show its picture where possible; whether a picture shows."""
        self.query_one(".cover-text", Static).update(describe_cover(path, url))
        for old in self.query(".cover-picture"):
            old.remove()
        if _picture_widget is not None and path and Path(path).is_file():
            picture = _picture_widget(path, classes="cover-picture")
            self.query_one(Horizontal).mount(picture, before=0)
            return True
        return False
