"""``shelver stats [BOOK_ID] [--json]`` and ``shelver stats import FILE``: KOReader's reading
statistics (page visits synced through ``/dav/`` or copied off a device)."""

from __future__ import annotations

import argparse
import asyncio
import uuid
from pathlib import Path
from typing import Any

from shelver.app.cli.context import (
    EXIT_OK,
    EXIT_SOME_FAILED,
    EXIT_USAGE,
    CliContext,
    CommandError,
    print_json,
)


def register(commands: argparse._SubParsersAction) -> None:
    stats = commands.add_parser(
        "stats",
        help="reading statistics from KOReader (time read, sessions, pace)",
        description="Without BOOK_ID: every book with statistics. `shelver stats import FILE` "
        "takes in a statistics.sqlite3 copied off a device.",
    )
    stats.add_argument(
        "target", nargs="*", metavar="BOOK_ID | import FILE", help="a book's id, or: import FILE"
    )
    stats.add_argument("--json", action="store_true", help="print one JSON document")
    stats.add_argument(
        "--force", action="store_true", help="import: read the file even if it was imported before"
    )
    stats.set_defaults(handler=run_stats)


def run_stats(context: CliContext, args: argparse.Namespace) -> int:
    target = list(args.target)
    if target and target[0] == "import":
        if len(target) != 2:
            raise CommandError("usage: shelver stats import FILE", EXIT_USAGE)
        return _run_import(context, Path(target[1]), args)
    if len(target) > 1:
        raise CommandError("give one BOOK_ID (or: stats import FILE)", EXIT_USAGE)
    book_id = None
    if target:
        try:
            book_id = uuid.UUID(target[0])
        except ValueError:
            raise CommandError("BOOK_ID must be a book's UUID", EXIT_USAGE) from None
    return _run_show(context, book_id, args)


def _run_import(context: CliContext, path: Path, args: argparse.Namespace) -> int:
    from shelver.data.statistics_ingest import import_statistics

    if not path.is_file():
        raise CommandError(f"{path}: no such file", EXIT_USAGE)

    async def run():
        database = await context.open_database(max_size=2)
        async with database:
            return await import_statistics(database.pool, path, source="cli", force=args.force)

    result = asyncio.run(run())
    if args.json:
        print_json({"file": str(path), **result.model_dump(mode="json")})
    elif result.outcome == "refused":
        pass
    elif result.outcome == "unchanged":
        print(f"{path.name}: already imported, nothing new")
    else:
        skipped = ""
        if result.skipped_books or result.skipped_visits:
            skipped = (
                f"; skipped {result.skipped_books} books without a document id and "
                f"{result.skipped_visits} unusable page visits"
            )
        print(
            f"{path.name}: {result.books} books, {result.visits_in_file} page visits "
            f"({result.visits_added} new){skipped}"
        )
    if result.outcome == "refused":
        raise CommandError(f"{path}: {result.detail}", EXIT_SOME_FAILED)
    return EXIT_OK


def _seconds(value: Any) -> int | None:
    return None if value is None else round(value)


def _session_json(session: Any) -> dict[str, Any]:
    return {
        "started_at": session.started_at.isoformat(),
        "ended_at": session.ended_at.isoformat(),
        "seconds": session.seconds,
        "pages": session.pages,
        "start_percent": _percent(session.start_fraction),
        "end_percent": _percent(session.end_fraction),
    }


def _percent(fraction: float | None) -> float | None:
    return None if fraction is None else round(fraction * 100, 1)


def _local(moment: Any) -> str:
    return "—" if moment is None else moment.astimezone().strftime("%Y-%m-%d %H:%M")


def _run_show(context: CliContext, book_id: uuid.UUID | None, args: argparse.Namespace) -> int:
    from shelver.data import reading, reading_insights

    async def run():
        database = await context.open_database(max_size=2)
        async with database:
            if book_id is None:
                return await reading_insights.documents(database.pool), []
            return (
                await reading_insights.book_reading(database.pool, book_id=book_id),
                await reading.current_positions(database.pool, book_id=book_id),
            )

    found, positions = asyncio.run(run())
    if book_id is None:
        _print_documents(found, args.json)
        return EXIT_OK
    if found is None and not positions:
        raise CommandError(
            f"no reading statistics or positions for book {book_id}", EXIT_SOME_FAILED
        )
    _print_book(book_id, found, positions, args.json)
    return EXIT_OK


def _position_json(position: Any) -> dict[str, Any]:
    """A KoSync position of the book, with the login whose device sent it (null: none)."""
    return {
        "login": position.login,
        "device": position.device,
        "percent": _percent(float(position.percentage)),
        "state": position.state.value,
        "updated_at": position.updated_at.isoformat(),
    }


def _print_documents(found: list[Any], as_json: bool) -> None:
    if as_json:
        print_json(
            {
                "books": [
                    {
                        "book_id": str(d.book_id) if d.book_id else None,
                        "document": d.document,
                        "title": d.title,
                        "author": d.author,
                        "seconds": d.seconds,
                        "page_visits": d.visits,
                        "first_read": d.first_read.isoformat() if d.first_read else None,
                        "last_read": d.last_read.isoformat() if d.last_read else None,
                    }
                    for d in found
                ]
            }
        )
        return
    if not found:
        print("no reading statistics yet (sync them from KOReader or: shelver stats import FILE)")
        return
    from shelver.widgets.format import reading_time

    for d in found:
        who = f" — {d.author}" if d.author else ""
        where = str(d.book_id) if d.book_id else f"not in the library ({d.document})"
        print(f"{d.title}{who}")
        print(f"  {reading_time(d.seconds)} · last read {_local(d.last_read)} · {where}")


def _print_book(book_id: uuid.UUID, book: Any, positions: list[Any], as_json: bool) -> None:
    if as_json:
        document: dict[str, Any] = {"book_id": str(book_id)}
        if book is not None:
            document |= {
                "documents": book.documents,
                "seconds": book.seconds,
                "sessions": [_session_json(s) for s in book.sessions],
                "pages_read": book.pages_read,
                "pages_per_hour": None
                if book.pages_per_hour is None
                else round(book.pages_per_hour, 1),
                "percent": _percent(book.fraction),
                "seconds_left": _seconds(book.seconds_left),
                "first_read": book.first_read.isoformat() if book.first_read else None,
                "last_read": book.last_read.isoformat() if book.last_read else None,
            }
        print_json(document | {"positions": [_position_json(p) for p in positions]})
        return
    if book is not None:
        _print_statistics(book)
    if positions:
        print()
        print(f"{'Login':<16} {'Device':<16} {'Progress':>8}  Updated")
        for p in positions:
            percent = _percent(float(p.percentage))
            print(f"{p.login or '—':<16} {p.device:<16} {percent:>6.0f} %  {_local(p.updated_at)}")


def _print_statistics(book: Any) -> None:
    from shelver.widgets.format import reading_time

    pace = f"{book.pages_per_hour:.0f} pages/h" if book.pages_per_hour else "—"
    print(f"Time read   {reading_time(book.seconds)} in {len(book.sessions)} sessions ({pace})")
    if book.seconds_left is not None:
        print(f"Time left   {reading_time(book.seconds_left)} at this pace")
    print(f"First read  {_local(book.first_read)}")
    print(f"Last read   {_local(book.last_read)}")
    print()
    print(f"{'Started':<17} {'Time':>10} {'Pages':>6}  Progress")
    for s in reversed(book.sessions):
        start, end = _percent(s.start_fraction), _percent(s.end_fraction)
        moved = "—" if start is None or end is None else f"{start:.0f}→{end:.0f} %"
        print(f"{_local(s.started_at):<17} {reading_time(s.seconds):>10} {s.pages:>6}  {moved}")
