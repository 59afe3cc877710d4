"""``shelver fetch [BOOK_ID...] [--json]``: metadata candidates from Google Books and Hardcover."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING
from uuid import UUID

from shelver.app.cli.context import (
    EXIT_OK,
    EXIT_SOME_FAILED,
    EXIT_USAGE,
    CliContext,
    CommandError,
    print_json,
)

if TYPE_CHECKING:
    from shelver.data.fetching import FetchReport


def register(commands: argparse._SubParsersAction) -> None:
    fetch = commands.add_parser(
        "fetch", help="fetch metadata candidates (all inbox books by default)"
    )
    fetch.add_argument("book_ids", nargs="*", metavar="BOOK_ID")
    fetch.add_argument("--json", action="store_true", help="print one JSON summary")
    fetch.set_defaults(handler=run_fetch)


def parse_ids(values: list[str]) -> list[UUID] | None:
    """Book ids from the command line (None: every inbox book)."""
    if not values:
        return None
    ids = []
    for value in values:
        try:
            ids.append(UUID(value))
        except ValueError:
            raise CommandError(f"not a book id: {value!r}", EXIT_USAGE) from None
    return ids


class ProgressLine:
    """A one-line progress bar on stderr, only when stderr is a terminal."""

    WIDTH = 30

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total == 0:
            return
        filled = round(self.WIDTH * done / total)
        bar = "█" * filled + "░" * (self.WIDTH - filled)
        sys.stderr.write(f"\rfetching {bar} {done}/{total}")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def print_summary(report: FetchReport) -> None:
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    for missing in report.missing:
        print(f"{missing}: no such book", file=sys.stderr)
    for book in report.failed:
        reasons = "; ".join(s.message for s in book.sources if s.state == "failed")
        print(f"failed  “{book.title or 'untitled'}” ({book.book_id}): {reasons}", file=sys.stderr)
    moved = sum(b.moved_to_review for b in report.books)
    print(
        f"fetched {len(report.books)} book(s): {moved} ready for review, "
        f"{len(report.failed)} with failures, {len(report.missing)} not found "
        f"({report.elapsed:.1f} s)"
    )


def run_fetch(context: CliContext, args: argparse.Namespace) -> int:
    from shelver.data.fetching import fetch_candidates

    book_ids = parse_ids(args.book_ids)

    async def run() -> FetchReport:
        database = await context.open_database()
        try:
            return await fetch_candidates(
                database,
                context.settings,
                book_ids,
                None if args.json else ProgressLine(),
                config_dir=context.home.config_dir,
            )
        finally:
            await database.close()

    report = asyncio.run(run())
    if args.json:
        print_json(report.to_json())
    else:
        print_summary(report)
    return EXIT_OK if report.ok else EXIT_SOME_FAILED
