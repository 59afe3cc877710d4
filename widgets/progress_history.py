"""The selected book's reading history: percentage over time as a chart, and its sessions."""

from __future__ import annotations

from datetime import datetime, timedelta

from rich.text import Text
from textual.widgets import DataTable
from textual_plotext import PlotextPlot

from shelver.data.reading import HistoryEntry, ReadingSession


def _local(moment: datetime) -> datetime:
    return moment.astimezone()


class HistoryChart(PlotextPlot):
    """Percentage (0-100) against time, one line per device."""

    DEFAULT_CSS = """
    HistoryChart { width: 1fr; height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.series: dict[str, list[tuple[datetime, float]]] = {}
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
            plt.xticks([t.timestamp() for t in ticks], [t.strftime(form) for t in ticks])
            if last == first:
                plt.xlim(first.timestamp() - 60, first.timestamp() + 60)
        for device, points in series.items():
            # One update still shows as a dot; two or more as a line.
            plt.plot(
                [moment.timestamp() for moment, _ in points],
                [value for _, value in points],
                marker="braille",
                label=device if len(series) > 1 else None,
            )
        self.refresh()


def duration_text(duration: timedelta) -> str:
    minutes = int(duration.total_seconds() // 60)
    if minutes < 1:
        return "<1m"
    if minutes < 60:
        return f"{minutes}m"
    return f"{minutes // 60}h{minutes % 60:02d}"


SESSION_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("started", "Started", 11),
    ("device", "Device", 7),
    ("read", "Read", 9),
    ("time", "Time", 5),
)


class SessionsTable(DataTable):
    """One row per reading session, newest first: when, device, from-to percent, how long."""

    DEFAULT_CSS = """
    SessionsTable { width: 42; height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="none", zebra_stripes=True)
        self.sessions: list[ReadingSession] = []

    def on_mount(self) -> None:
        for key, label, width in SESSION_COLUMNS:
            self.add_column(label, key=key, width=width)

    def show_sessions(self, sessions: list[ReadingSession]) -> None:
        self.sessions = sessions
        self.clear()
        for session in reversed(sessions):
            start = round(float(session.start_percentage) * 100)
            end = round(float(session.end_percentage) * 100)
            self.add_row(
                _local(session.started_at).strftime("%d/%m %H:%M"),
                session.device[:7],
                Text(f"{start}→{end}%", "green" if end > start else ""),
                duration_text(session.duration),
            )
