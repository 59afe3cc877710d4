"""The selected book's reading history: percentage over time as a chart, and its sessions."""

from __future__ import annotations

from datetime import datetime, timedelta

from rich.text import Text
from textual_plotext import PlotextPlot

from shelver.data.reading import HistoryEntry, ReadingSession
from shelver.data.reading_insights import StatSession
from shelver.widgets.format import short_reading_time
from shelver.widgets.text_table import TextTable


def _local(moment: datetime) -> datetime:
    return moment.astimezone()


DEVICE_MARKERS = ("braille", "x", "o", "+", "*", "#")
"""One marker per device, in the order devices first appear."""


def distinct_ticks(ticks: list[datetime], form: str) -> tuple[list[datetime], list[str]]:
    """The ticks whose label differs from the one before (an axis never says a day twice)."""
    kept: list[datetime] = []
    labels: list[str] = []
    for tick in ticks:
        label = tick.strftime(form)
        if label not in labels:
            kept.append(tick)
            labels.append(label)
    return kept, labels


class HistoryChart(PlotextPlot):
    """Percentage (0-100) against time, one line per device."""

    DEFAULT_CSS = """
    HistoryChart { width: 1fr; height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.series: dict[str, list[tuple[datetime, float]]] = {}
        self.markers: dict[str, str] = {}
        """The marker each device is drawn with (read by tests)."""
        """What the chart shows: per device, (time, percent) oldest first (read by tests)."""

    def show_history(self, entries: list[HistoryEntry]) -> None:
        series: dict[str, list[tuple[datetime, float]]] = {}
        for entry in entries:
            series.setdefault(entry.device, []).append(
                (_local(entry.created_at), float(entry.percentage) * 100)
            )
        self.series = series
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.ylim(0, 100)
        plt.yticks([0, 50, 100])
        if not series:
            plt.title("no history yet")
        moments = sorted(moment for points in series.values() for moment, _ in points)
        if moments:
            # Plain numbers on the x axis with three labelled ticks: plotext's own date ticks
            # repeat the same day when the history spans only a few days.
            first, last = moments[0], moments[-1]
            middle = first + (last - first) / 2
            ticks = [first, middle, last] if last > first else [first]
            form = "%H:%M" if last - first < timedelta(days=1) else "%d/%m"
            ticks, labels = distinct_ticks(ticks, form)
            plt.xticks([t.timestamp() for t in ticks], labels)
            if last == first:
                plt.xlim(first.timestamp() - 60, first.timestamp() + 60)
        self.markers = {
            device: DEVICE_MARKERS[index % len(DEVICE_MARKERS)]
            for index, device in enumerate(series)
        }
        for device, points in series.items():
            # Devices differ by marker, not only by colour (monochrome terminals, colour
            # blindness); one update still shows as a point.
            plt.plot(
                [moment.timestamp() for moment, _ in points],
                [value for _, value in points],
                marker=self.markers[device],
                label=device if len(series) > 1 else None,
            )
        self.refresh()


def duration_text(duration: timedelta) -> str:
    return short_reading_time(duration.total_seconds())


SESSION_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("started", "Started", 11),
    ("device", "Device", 7),
    ("read", "Read", 9),
    ("time", "Time", 5),
)


STAT_SESSION_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("started", "Started", 11),
    ("pages", "Pages", 7),
    ("read", "Read", 9),
    ("time", "Time", 5),
)


class SessionsTable(TextTable):
    """One row per reading session, newest first: when, device, from-to percent, how long."""

    DEFAULT_CSS = """
    SessionsTable { width: 42; height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="none", zebra_stripes=True)
        self.sessions: list[ReadingSession] = []
        self.stat_sessions: list[StatSession] = []

    def on_mount(self) -> None:
        self._use_columns(SESSION_COLUMNS)

    def _use_columns(self, columns: tuple[tuple[str, str, int], ...]) -> None:
        if tuple(self.columns) != tuple(key for key, _, _ in columns):
            self.clear(columns=True)
            for key, label, width in columns:
                self.add_column(label, key=key, width=width)
        else:
            self.clear()

    def show_stat_sessions(self, sessions: list[StatSession]) -> None:
        """Sessions from KOReader's statistics: when, pages read, from-to percent, time."""
        self.stat_sessions = sessions
        self._use_columns(STAT_SESSION_COLUMNS)
        for session in reversed(sessions):
            start, end = session.start_fraction, session.end_fraction
            moved = "—" if start is None or end is None else f"{start * 100:.0f}→{end * 100:.0f}%"
            self.add_row(
                _local(session.started_at).strftime("%d/%m %H:%M"),
                f"{session.pages} p",
                Text(moved, "green" if (end or 0) > (start or 0) else ""),
                duration_text(timedelta(seconds=session.seconds)),
            )

    def show_sessions(self, sessions: list[ReadingSession]) -> None:
        self.sessions = sessions
        self._use_columns(SESSION_COLUMNS)
        for session in reversed(sessions):
            start = round(float(session.start_percentage) * 100)
            end = round(float(session.end_percentage) * 100)
            self.add_row(
                _local(session.started_at).strftime("%d/%m %H:%M"),
                Text(session.device[:7]),  # a device's own name, not markup
                Text(f"{start}→{end}%", "green" if end > start else ""),
                duration_text(session.duration),
            )
