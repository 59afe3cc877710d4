"""``shelver import PATH... [--move] [--json]``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from shelver.app.cli.context import EXIT_OK, EXIT_SOME_FAILED, CliContext, print_json

if TYPE_CHECKING:
    from shelver.data.importing import ImportReport


def register(commands: argparse._SubParsersAction) -> None:
    importer = commands.add_parser(
        "import",
        help="copy (or move) files and folders into the inbox",
        description="Import ebook files (EPUB, PDF, FB2, CBZ, MOBI, AZW3) and folders of them "
        "(recursively) into the inbox. Exit code 1 when any input was refused.",
    )
    importer.add_argument("paths", nargs="+", metavar="PATH")
    importer.add_argument("--move", action="store_true", help="move instead of copy")
    importer.add_argument("--json", action="store_true", help="print one JSON summary")
    importer.set_defaults(handler=run_import)


def run_import(context: CliContext, args: argparse.Namespace) -> int:
    report = asyncio.run(_import(context, args))
    if args.json:
        print_json(report.model_dump(mode="json"))
    else:
        _print_human(report)
    return EXIT_OK if report.ok else EXIT_SOME_FAILED


async def _import(context: CliContext, args: argparse.Namespace) -> ImportReport:
    from shelver.data import books
    from shelver.data.importing import import_paths

    database = await context.open_database()
    try:
        with progress_bar() as progress:
            report = await import_paths(
                database,
                context.home,
                args.paths,
                move=args.move,
                progress=progress,
                inbox_dir=context.settings.inbox_dir,
            )
        # A possible duplicate is named by its title, not its id.
        for item in report.imported:
            if item.possible_duplicate_of is not None:
                other = await books.get(database.pool, item.possible_duplicate_of)
                item.possible_duplicate_title = other.title if other else None
        return report
    finally:
        await database.close()


def progress_bar() -> AbstractContextManager[Any]:
    """A rich progress bar on stderr when a person is watching; nothing otherwise."""
    if not sys.stderr.isatty():
        return nullcontext(None)
    return _RichProgress()


class _RichProgress:
    """Adapts rich's Progress to the pipeline's ``progress(done, total, name)`` callback."""

    def __enter__(self) -> _RichProgress:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self._progress = Progress(
            TextColumn("importing"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}", style="dim"),
            console=Console(stderr=True),
            transient=True,
        )
        self._progress.__enter__()
        self._task = self._progress.add_task("", total=None)
        return self

    def __call__(self, done: int, total: int, name: str) -> None:
        self._progress.update(self._task, completed=done, total=total, description=name[:40])

    def __exit__(self, *exc_info: object) -> None:
        self._progress.__exit__(*exc_info)  # type: ignore[arg-type]


def _print_human(report: ImportReport) -> None:
    for item in report.imported:
        suffix = (
            f"  (possible duplicate of “{item.possible_duplicate_title or 'untitled'}”)"
            if item.possible_duplicate_of
            else ""
        )
        print(f"imported  {one_line(item.path)}: {item.title or '(no title)'}{suffix}")
        if item.note:
            print(f"note      {one_line(item.path)}: {item.note}", file=sys.stderr)
    for item in report.skipped:
        print(f"skipped   {one_line(item.path)}: {item.reason}")
    for item in report.refused:
        moved = f" (moved to {one_line(item.moved_to)})" if item.moved_to else ""
        print(f"refused   {one_line(item.path)}: {item.reason}{moved}", file=sys.stderr)
    print(report.summary(), file=sys.stderr)


def one_line(text: str) -> str:
    """File names may hold newlines; a report line must not."""
    return text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text
