"""Turning values into short, readable cell text: sizes, ages, progress bars."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from rich.cells import cell_len, set_cell_size
from rich.text import Text

from shelver.data.reading_state import finished


def human_size(size: int) -> str:
    """``1536`` -> ``"1.5 KB"``: decimal units, one decimal below 10."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            if unit == "B":
                return f"{int(value)} B"
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def relative_time(moment: datetime | None, now: datetime | None = None) -> str:
    """How long ago ``moment`` was, in the fewest characters a person still reads easily."""
    if moment is None:
        return "—"
    now = now or datetime.now(UTC)
    seconds = (now - moment).total_seconds()
    if seconds < 0:
        return "just now" if seconds > -60 else moment.strftime("%Y-%m-%d")
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    days = int(seconds // 86400)
    if days < 2:
        return "yesterday"
    if days < 30:
        return f"{days} d ago"
    return moment.astimezone().strftime("%Y-%m-%d")


def fraction_bar(fraction: Decimal | float | None, width: int = 10) -> Text:
    """A bar like ``██████░░░░  60%``; green once the book counts as finished."""
    if fraction is None:
        return Text("—", style="dim")
    value = min(max(float(fraction), 0.0), 1.0)
    filled = round(value * width)
    style = "green" if finished(value) else "cyan"
    bar = Text("█" * filled, style=style)
    bar.append("░" * (width - filled), style="grey50")
    bar.append(f" {value * 100:3.0f}%")
    return bar


def clip(text: str | None, width: int, placeholder: str = "—") -> str:
    """``text`` on one line, cut to ``width`` terminal cells (wide CJK counts 2) with "…"."""
    if not text:
        return placeholder
    line = " ".join(text.split())
    if cell_len(line) <= width:
        return line
    return set_cell_size(line, max(width - 1, 0)).rstrip() + "…"


def reading_time(seconds: float | None) -> str:
    """``4510`` -> ``"1 h 15 min"``; minutes below an hour, ``<1 min`` for a glance."""
    if seconds is None:
        return "—"
    minutes = int(seconds // 60)
    if minutes < 1:
        return "<1 min"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours < 100 else f"{hours} h"


def short_reading_time(seconds: float | None) -> str:
    """``4510`` -> ``"1h15"``, ``900`` -> ``"15m"``: a table cell of at most five characters
    (``—`` when unknown)."""
    if seconds is None:
        return "—"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes}m" if minutes else "<1m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}" if hours < 100 else f"{hours}h"
