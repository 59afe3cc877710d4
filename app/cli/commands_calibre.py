"""``shelver import-calibre LIBRARY_DIR [--copy | --link | --in-place] [--dry-run] [--json]``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING

from shelver.app.cli.commands_import import one_line, progress_bar
from shelver.app.cli.context import EXIT_OK, EXIT_SOME_FAILED, CliContext, CommandError, print_json
from shelver.data.calibre.files import Placement

if TYPE_CHECKING:
    from shelver.data.calibre.report import CalibreImportReport

NOTES_SHOWN = 3
PLACEMENT_HELP = {
    Placement.COPY: "copy the files into shelver's library folder (the default)",
    Placement.LINK: "hard-link the files into shelver's library folder (one file system; "
    "no extra space)",
    Placement.IN_PLACE: "use the files where they are; shelver never moves or changes them",
}


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "import-calibre",
        help="bring a Calibre library over, every book organized",
        description="Bring a whole Calibre library (the folder holding metadata.db) over: every "
        "book with all its formats, cover, series, tags, rating, identifiers and custom columns "
        "becomes an organized book. Calibre's files are never changed. Running it again adds "
        "only what is new. Exit code 1 when any book or file could not be brought over.",
    )
    parser.add_argument("library", metavar="LIBRARY_DIR")
    placement = parser.add_mutually_exclusive_group()
    for chosen, explanation in PLACEMENT_HELP.items():
        placement.add_argument(
            f"--{chosen.value}",
            dest="placement",
            action="store_const",
            const=chosen,
            help=explanation,
        )
    parser.add_argument(
        "--dry-run", action="store_true", help="say what would happen; change nothing"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON report")
    parser.set_defaults(handler=run_import_calibre, placement=Placement.COPY)


def run_import_calibre(context: CliContext, args: argparse.Namespace) -> int:
    report = asyncio.run(_import(context, args))
    if args.json:
        print_json(report.model_dump(mode="json"))
    else:
        print_report(report)
    return EXIT_OK if report.ok else EXIT_SOME_FAILED


async def _import(context: CliContext, args: argparse.Namespace) -> CalibreImportReport:
    from shelver.data.calibre.importer import import_calibre
    from shelver.data.calibre.reader import CalibreLibraryError

    database = await context.open_database()
    try:
        with progress_bar() as progress:
            return await import_calibre(
                database,
                context.home,
                context.settings,
                args.library,
                placement=args.placement,
                dry_run=args.dry_run,
                progress=progress,
            )
    except CalibreLibraryError as exc:
        raise CommandError(str(exc)) from None
    finally:
        await database.close()


def print_report(report: CalibreImportReport) -> None:
    """Every book that changed on stdout; problems, what was not kept and the summary on stderr."""
    for book in report.books:
        if book.outcome == "unchanged":
            continue
        label = {"imported": "imported", "files_added": "added to", "matched": "matched"}
        formats = ", ".join(sorted({f.rsplit(".", 1)[-1] for f in book.files})) or "no file"
        print(f"{label[book.outcome]:9} #{book.calibre_id} {one_line(book.title)} ({formats})")
        for note in book.notes[:NOTES_SHOWN]:
            print(f"          note: {one_line(note)}")
    for problem in report.skipped_files:
        print(
            f"skipped   #{problem.calibre_id} {one_line(problem.path or '')}: {problem.reason}",
            file=sys.stderr,
        )
    for problem in report.failed_books:
        print(
            f"failed    #{problem.calibre_id} {one_line(problem.title or '')}: {problem.reason}",
            file=sys.stderr,
        )
    for item in report.not_kept:
        print(f"not kept  {item.what} ({item.count}): {item.reason}", file=sys.stderr)
    print(report.summary(), file=sys.stderr)
