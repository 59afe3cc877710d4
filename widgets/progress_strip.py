"""A one-line progress strip: what is being done, a bar, and the item just finished.

`report` is safe to call from any thread: work running off the UI loop (a thread worker or a
library callback) is marshalled onto it, so the bar never freezes or races the UI.
"""

from __future__ import annotations

import threading

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label, ProgressBar

from shelver.widgets.format import clip


class ProgressStrip(Horizontal):
    """``Importing  ████████░░░░  40/100  some-file.epub``; hidden until `start`."""

    DEFAULT_CSS = """
    ProgressStrip {
        height: 1;
        padding: 0 1;
        display: none;
    }
    ProgressStrip.-running { display: block; }
    ProgressStrip > #progress-what { width: auto; margin-right: 1; text-style: bold; }
    ProgressStrip > ProgressBar { width: auto; }
    ProgressStrip > ProgressBar > Bar { width: 20; }
    ProgressStrip > #progress-item { width: 1fr; color: $text-muted; margin-left: 1; }
    """

    def compose(self) -> ComposeResult:
        yield Label("", id="progress-what")
        yield ProgressBar(show_eta=False, id="progress-bar")
        yield Label("", id="progress-item")

    def start(self, what: str, total: int | None = None) -> None:
        self.query_one("#progress-what", Label).update(what)
        self.query_one("#progress-item", Label).update("")
        self.query_one(ProgressBar).update(total=total, progress=0)
        self.add_class("-running")

    def report(self, done: int, total: int, item: str = "") -> None:
        """Move the bar to ``done`` of ``total`` (callable from any thread)."""
        if self.app._thread_id != threading.get_ident():  # Textual keeps the UI thread here
            self.app.call_from_thread(self.report, done, total, item)
            return
        self.query_one(ProgressBar).update(total=max(total, 1), progress=done)
        if item:
            self.query_one("#progress-item", Label).update(clip(item, 40))

    def finish(self, message: str = "") -> None:
        """Fill the bar; keep the strip up with ``message``, or hide it when there is none."""
        bar = self.query_one(ProgressBar)
        bar.update(total=bar.total or 1, progress=bar.total or 1)
        if message:
            self.query_one("#progress-item", Label).update(message)
        else:
            self.remove_class("-running")

    def hide(self) -> None:
        self.remove_class("-running")

    @property
    def progress(self) -> tuple[float, float | None]:
        """``(done, total)`` as the bar shows them."""
        bar = self.query_one(ProgressBar)
        return bar.progress, bar.total
