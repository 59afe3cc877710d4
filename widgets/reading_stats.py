"""Reading statistics as text: a book's summary, a calendar of time read per day, books
finished per month. Plain Rich text that reads in 80×24 and without colour: intensity is shown
by shade characters, not only by hue, and no axis label is printed twice."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from rich.text import Text

from shelver.data.reading_insights import BookReading, LibraryReading
from shelver.widgets.format import reading_time

# (minimum minutes, cell, style): a day's cell by how long was read.
LEVELS: tuple[tuple[int, str, str], ...] = (
    (60, "██", "green"),
    (30, "▓▓", "green"),
    (15, "▒▒", "green"),
    (1, "░░", "green"),
    (0, "··", "grey50"),
)
WEEKDAYS = ("Mon", "", "Wed", "", "Fri", "", "Sun")
CELL = 3
"""Each week is a column this many characters wide (two for the shade, one space)."""


def _local(moment: datetime | None) -> str:
    return "—" if moment is None else moment.astimezone().strftime("%d %b %Y")


def percent(fraction: float | None) -> str:
    return "—" if fraction is None else f"{fraction * 100:.0f}"


def describe_statistics(book: BookReading) -> Text:
    """Totals, pace, time left and the first and last read, one fact a line."""
    text = Text()
    pace = f" · {book.pages_per_hour:.0f} pages/h" if book.pages_per_hour else ""
    sessions = len(book.sessions)
    text.append("  Time read ", "dim")
    text.append(reading_time(book.seconds), "bold")
    text.append(f" in {sessions} session{'s' * (sessions != 1)}{pace}\n")
    if book.seconds_left is not None:
        text.append("  Time left ", "dim")
        if book.seconds_left == 0:
            text.append("finished\n", "green")
        else:
            text.append(f"~{reading_time(book.seconds_left)}", "bold")
            text.append(" at your pace\n")
    text.append("  First     ", "dim")
    text.append(f"{_local(book.first_read)}\n")
    text.append("  Last      ", "dim")
    text.append(f"{_local(book.last_read)}\n")
    return text


def session_lines(book: BookReading, limit: int = 5) -> Text:
    """The newest sessions: start, duration, pages, start→end percentage."""
    text = Text()
    for session in list(reversed(book.sessions))[:limit]:
        text.append(f"  {session.started_at.astimezone():%d/%m %H:%M}", "dim")
        text.append(f" {reading_time(session.seconds):>11}")
        text.append(f" {session.pages:>4} p ")
        text.append(f"{percent(session.start_fraction)}→{percent(session.end_fraction)} %\n")
    if len(book.sessions) > limit:
        text.append(f"  … {len(book.sessions) - limit} earlier sessions\n", "dim")
    return text


def _cell(seconds: int) -> tuple[str, str]:
    minutes = seconds // 60
    for least, glyph, style in LEVELS:
        if minutes >= least and (seconds > 0 or least == 0):
            return glyph, style
    return LEVELS[-1][1], LEVELS[-1][2]


def calendar(library: LibraryReading) -> Text:
    """Weeks as columns (Monday on top), days as shaded cells, month names above the week
    in which each month starts (each name once), and a legend."""
    days = library.days
    if not days:
        return Text("no days", "dim")
    first = days[0].day - timedelta(days=days[0].day.weekday())
    by_day = {d.day: d.seconds for d in days}
    weeks = (days[-1].day - first).days // 7 + 1
    header = [" "] * (4 + weeks * CELL)
    last_label_end = 0
    for week in range(weeks):
        monday = first + timedelta(days=7 * week)
        week_days = [monday + timedelta(days=n) for n in range(7)]
        # A month is named above the week holding its 1st (the first week names its own).
        firsts = [day for day in week_days if day.day == 1]
        if not firsts and week > 0:
            continue
        label = (firsts[0] if firsts else monday).strftime("%b")
        column = 4 + week * CELL
        if column < last_label_end + 1 or column + len(label) > len(header):
            continue
        header[column : column + len(label)] = label
        last_label_end = column + len(label)
    text = Text("".join(header).rstrip() + "\n", "dim")
    for weekday in range(7):
        text.append(f"{WEEKDAYS[weekday]:<4}", "dim")
        for week in range(weeks):
            day = first + timedelta(days=7 * week + weekday)
            if day not in by_day:
                text.append(" " * CELL)
                continue
            glyph, style = _cell(by_day[day])
            text.append(glyph, style)
            text.append(" ")
        text.rstrip()
        text.append("\n")
    text.append("    ")
    for least, glyph, style in reversed(LEVELS):
        text.append(glyph, style)
        text.append(" none  " if least == 0 else f" {least}+ min  ", "dim")
    return text


def finished_by_month(library: LibraryReading) -> Text:
    """Books finished per month: the count above each month's name."""
    months = library.finished_by_month
    title = Text("Books finished per month", "bold")
    if months:
        title.append(f"  {months[0].month:%b %Y} – {months[-1].month:%b %Y}", "dim")
    counts = Text(" " * 4)
    names = Text(" " * 4)
    for month in months:
        counts.append(f"{month.books:>4}", "bold" if month.books else "grey50")
        names.append(f"{month.month:%b}".rjust(4), "dim")
    return Text("\n").join([title, counts, names])


def library_summary(library: LibraryReading, today: date) -> Text:
    total = sum(d.seconds for d in library.days)
    active = sum(1 for d in library.days if d.seconds)
    best = max(library.days, key=lambda d: d.seconds, default=None)
    text = Text()
    text.append("Streak ", "dim")
    text.append(f"{library.streak} day{'s' * (library.streak != 1)}", "bold")
    if not total and library.streak:
        # The streak also counts days with KoSync positions; time read needs statistics.
        text.append(" (synced positions)", "dim")
    text.append(f" · last {len(library.days)} days: ", "dim")
    if total:
        text.append(reading_time(total), "bold")
        text.append(f" on {active} day{'s' * (active != 1)}", "dim")
    else:
        text.append("no reading time recorded", "dim")
    if best is not None and best.seconds:
        text.append(f"\nBest day {best.day:%d %b}: {reading_time(best.seconds)}", "dim")
    return text


def statistics_title(book: BookReading) -> str:
    """One line for a detail heading: time read, sessions, pace, time left."""
    sessions = len(book.sessions)
    parts = [f"{reading_time(book.seconds)} read", f"{sessions} session{'s' * (sessions != 1)}"]
    if book.pages_per_hour:
        parts.append(f"{book.pages_per_hour:.0f} p/h")
    if book.seconds_left:
        parts.append(f"~{reading_time(book.seconds_left)} left")
    elif book.seconds_left == 0:
        parts.append("finished")
    return " · ".join(parts)
