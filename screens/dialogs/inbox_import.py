"""The Inbox's import dialog: ask for a file or folder (tab completes), import it in a worker
with a progress bar, then say what happened to every file (imported, duplicate, refused).

A folder holding ``metadata.db`` is offered as a Calibre library: brought over with every book
organized (files copied, hard-linked or used in place), or its files imported into the Inbox."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from shelver.data.calibre.files import Placement
from shelver.data.calibre.importer import import_calibre
from shelver.data.calibre.reader import CalibreLibraryError, find_metadata_db
from shelver.data.calibre.report import CalibreImportReport
from shelver.data.importing import ImportReport, import_paths
from shelver.data.importing.process_pools import prepare_process_pools
from shelver.screens.dialogs.base import Dialog
from shelver.widgets.path_input import PathInput
from shelver.widgets.progress_strip import ProgressStrip

if TYPE_CHECKING:
    from shelver.screens.host import ShelverHost

SHOWN_MATCHES = 6
INBOX_CHOICE = "inbox"
CALIBRE_CHOICES = (
    (Placement.COPY.value, "Bring it over: copy the files into shelver's library"),
    (Placement.LINK.value, "Bring it over: hard-link the files (no extra space)"),
    (Placement.IN_PLACE.value, "Bring it over: use the files where they are"),
    (INBOX_CHOICE, "Import only its files into the Inbox (Calibre's metadata unused)"),
)
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


def calibre_summary_text(report: CalibreImportReport) -> Text:
    """The outcome of a Calibre import: counts, then every problem and what was not kept."""
    text = Text()
    text.append(f"Imported {report.count('imported')} book(s)", "bold green")
    text.append(
        f" · added files to {report.count('files_added')} · matched "
        f"{report.count('matched')} · unchanged {report.count('unchanged')}"
    )
    text.append(f" · {len(report.failed_books)} failed", "bold red" if report.failed_books else "")
    problems = [(p.title or "", p.reason) for p in report.failed_books] + [
        (Path(p.path or "").name, p.reason) for p in report.skipped_files
    ]
    if problems:
        text.append("\n\nNot brought over:", "bold")
        for what, reason in problems[:LISTED]:
            text.append(f"\n• {what}", "red")
            text.append(f": {reason}")
        if len(problems) > LISTED:
            more = len(problems) - LISTED
            text.append(f"\n… and {more} more (`shelver import-calibre --json` lists them all)")
    if report.not_kept:
        text.append("\n\nCalibre data not kept:", "bold")
        for item in report.not_kept:
            text.append(f"\n• {item.what}", "yellow")
            text.append(f": {item.reason}")
    return text


class ImportDialog(Dialog[ImportReport | CalibreImportReport | None]):
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
        self.report: ImportReport | CalibreImportReport | None = None
        self.running = False
        self.calibre_folder: Path | None = None

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
            with Vertical(id="import-calibre"):
                yield Label("", id="import-calibre-note")
                yield OptionList(
                    *(Option(label, id=key) for key, label in CALIBRE_CHOICES),
                    id="import-calibre-choice",
                    compact=True,
                )
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
        if path.is_dir() and find_metadata_db(path) is not None:
            self._offer_calibre(path)
            return
        self.start(path)

    def _offer_calibre(self, folder: Path) -> None:
        """Ask how to bring a Calibre library over (or to import only its files)."""
        self.calibre_folder = folder
        self.query_one("#import-path", PathInput).disabled = True
        self._say("#import-matches", "")
        self.query_one("#import-calibre-note", Label).update(
            "This folder is a Calibre library: bring its books over, organized, with every "
            "field and format? Calibre's files are never changed."
        )
        self.query_one("#import-calibre").add_class("-shown")
        choice = self.query_one("#import-calibre-choice", OptionList)
        choice.highlighted = 0
        choice.focus()
        self.query_one("#import-hint", Label).update("↑↓ choose · enter start · esc cancel")

    @on(OptionList.OptionSelected, "#import-calibre-choice")
    def _calibre_chosen(self, event: OptionList.OptionSelected) -> None:
        folder = self.calibre_folder
        if folder is None or self.running or self.report is not None:
            return
        self.query_one("#import-calibre").remove_class("-shown")
        if event.option.id == INBOX_CHOICE:
            self.start(folder)
            return
        self.running = True
        self.query_one("#import-hint", Label).update("bringing the Calibre library over…")
        self.query_one(ProgressStrip).start("Calibre")
        self.run_calibre_import(folder, Placement(event.option.id))

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
        self._show_summary(summary_text(report))

    @work(exclusive=True, group="import", exit_on_error=False)
    async def run_calibre_import(self, folder: Path, placement: Placement) -> None:
        strip = self.query_one(ProgressStrip)
        try:
            database = await self.shelver.wait_for_database()
            report = await import_calibre(
                database,
                self.shelver.home,
                self.shelver.settings,
                folder,
                placement=placement,
                progress=strip.report,
            )
        except Exception as error:
            self.running = False
            strip.hide()
            self.query_one("#import-hint", Label).update("esc close")
            self._say("#import-error", f"The import stopped: {error}")
            if not isinstance(error, CalibreLibraryError):  # that one is already one clear line
                self.shelver.show_error(error)
            return
        self.running = False
        self.report = report
        strip.report(report.totals.books, report.totals.books)
        strip.finish(f"done: {report.totals.books} book{'s' * (report.totals.books != 1)}")
        self._show_summary(calibre_summary_text(report))

    def _show_summary(self, text: Text) -> None:
        self.query_one("#import-summary-text", Static).update(text)
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
