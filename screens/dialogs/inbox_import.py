"""The Inbox's import dialog: ask for a file or folder (tab completes), import it in a worker
with a progress bar, then say what happened to every file (imported, duplicate, refused)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Input, Label, Static

from shelver.data.importing import ImportReport, import_paths
from shelver.data.importing.process_pools import prepare_process_pools
from shelver.screens.dialogs.base import Dialog
from shelver.widgets.path_input import PathInput
from shelver.widgets.progress_strip import ProgressStrip

if TYPE_CHECKING:
    from shelver.screens.host import ShelverHost

SHOWN_MATCHES = 6
LISTED = 300
"""Refused and skipped files listed by name in the summary; the rest are counted."""


def _more(text: Text, count: int) -> None:
    if count > LISTED:
        text.append(f"\n… and {count - LISTED} more (`shelver import --json` lists them all)")


def summary_text(report: ImportReport) -> Text:
    """The outcome of an import for a person: counts first, then every refusal with its reason."""
    text = Text()
    text.append(f"Imported {len(report.imported)}", "bold green")
    text.append(f" · skipped {len(report.skipped)} duplicate{'s' * (len(report.skipped) != 1)}")
    text.append(f" · refused {len(report.refused)}", "bold red" if report.refused else "")
    if report.refused:
        text.append("\n\nRefused (left where they were):", "bold")
        for item in sorted(report.refused, key=lambda i: i.path)[:LISTED]:
            text.append(f"\n• {Path(item.path).name}", "red")
            text.append(f": {item.reason}")
            if item.moved_to:
                text.append(f" (moved to {item.moved_to})", "dim")
        _more(text, len(report.refused))
    if report.skipped:
        text.append("\n\nSkipped as duplicates:", "bold")
        for skipped in sorted(report.skipped, key=lambda i: i.path)[:LISTED]:
            text.append(f"\n• {Path(skipped.path).name}", "yellow")
            text.append(f": {skipped.reason}")
        _more(text, len(report.skipped))
    flagged = [item for item in report.imported if item.possible_duplicate_of]
    if flagged:
        text.append("\n\nImported, but possibly a book you already have:", "bold")
        for item in flagged[:LISTED]:
            text.append(f"\n• {item.title or Path(item.path).name}", "yellow")
        _more(text, len(flagged))
    return text


class ImportDialog(Dialog[ImportReport | None]):
    """Dismisses with the import's report (None when cancelled before it started)."""

    AUTO_FOCUS = "#import-path"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="import.close"),
        # Here q closes the dialog rather than quitting the app in the middle of an import.
        Binding("q", "close", "Close", show=False),
        # A binding, not a key handler: the key must not also reach the screen underneath.
        Binding("enter", "close_when_done", "Close", show=False, id="import.done"),
    ]

    def __init__(self, start_in: str = "") -> None:
        super().__init__()
        self.start_in = start_in
        self.report: ImportReport | None = None
        self.running = False

    @property
    def shelver(self) -> ShelverHost:
        return cast("ShelverHost", self.app)

    def compose(self) -> ComposeResult:
        with Vertical(id="import-box", classes="dialog-frame"):
            yield Label("Import books", id="import-title", classes="dialog-title")
            yield Label("File or folder (tab completes; the originals stay where they are):")
            yield PathInput(self.start_in, id="import-path", compact=True)
            yield Static("", id="import-matches", markup=False, classes="-blank")
            yield Static("", id="import-error", markup=False, classes="-blank")
            yield ProgressStrip(id="import-progress")
            with VerticalScroll(id="import-summary"):
                yield Static("", id="import-summary-text")
            yield Label("enter import · esc cancel", id="import-hint")

    # Asking ------------------------------------------------------------------------------

    @on(PathInput.Completed)
    def _show_matches(self, event: PathInput.Completed) -> None:
        matches = event.completion.matches
        shown = "  ".join(matches[:SHOWN_MATCHES])
        if len(matches) > SHOWN_MATCHES:
            shown += f"  … {len(matches) - SHOWN_MATCHES} more"
        self._say("#import-matches", shown if len(matches) > 1 else "")

    @on(Input.Changed, "#import-path")
    def _clear_error(self) -> None:
        self._say("#import-error", "")

    def _say(self, selector: str, message: str) -> None:
        """Show a note line, or hide it when there is nothing to say."""
        note = self.query_one(selector, Static)
        note.update(message)
        note.set_class(not message, "-blank")

    @on(Input.Submitted, "#import-path")
    def _submitted(self, event: Input.Submitted) -> None:
        if self.running or self.report is not None:
            return
        text = event.value.strip()
        if not text:
            self._say("#import-error", "Type the path of a book file or a folder of books.")
            return
        path = Path(os.path.expanduser(text))
        if not path.exists() and not path.is_symlink():
            self._say("#import-error", f"No such file or folder: {path}")
            return
        self.start(path)

    # Importing ---------------------------------------------------------------------------

    def start(self, path: Path) -> None:
        self.running = True
        self.query_one("#import-path", PathInput).disabled = True
        self._say("#import-matches", "")
        self.query_one("#import-hint", Label).update("importing…")
        self.query_one(ProgressStrip).start("Importing")
        self.run_import(path)

    @work(exclusive=True, group="import", exit_on_error=False)
    async def run_import(self, path: Path) -> None:
        strip = self.query_one(ProgressStrip)
        try:
            database = await self.shelver.wait_for_database()
            prepare_process_pools()  # on the UI thread: it swaps sys.stderr for a moment
            report = await import_paths(
                database,
                self.shelver.home,
                [path],
                progress=strip.report,
                inbox_dir=self.shelver.settings.inbox_dir,
            )
        except Exception as error:
            self.running = False
            strip.hide()
            self.query_one("#import-hint", Label).update("esc close")
            self._say("#import-error", f"The import stopped: {error}")
            self.shelver.show_error(error)
            return
        self.running = False
        self.report = report
        total = len(report.imported) + len(report.skipped) + len(report.refused)
        strip.report(total, total)
        strip.finish(f"done: {total} file{'s' * (total != 1)}")
        self.query_one("#import-summary-text", Static).update(summary_text(report))
        summary = self.query_one("#import-summary", VerticalScroll)
        summary.add_class("-shown")
        summary.focus()
        self.query_one("#import-hint", Label).update("↑↓ scroll · enter/esc close")

    # Closing -----------------------------------------------------------------------------

    def action_close_when_done(self) -> None:
        if self.report is not None:
            self.dismiss(self.report)

    def action_close(self) -> None:
        if self.running:
            self.notify("The import is still running; it closes when done.", timeout=3)
            return
        self.dismiss(self.report)
