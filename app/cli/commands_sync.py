"""``shelver sync hardcover [BOOK_ID...] [--json]``: push reading state to Hardcover."""

from __future__ import annotations

import argparse
import asyncio
import uuid
from typing import TYPE_CHECKING

from shelver.app.cli.context import (
    EXIT_OK,
    EXIT_SOME_FAILED,
    EXIT_USAGE,
    CliContext,
    CommandError,
    print_json,
)

if TYPE_CHECKING:
    from shelver.data.hardcover_sync import SyncOutcome


def register(commands: argparse._SubParsersAction) -> None:
    sync = commands.add_parser("sync", help="sync reading state with other services")
    services = sync.add_subparsers(dest="sync_service", required=True, metavar="SERVICE")
    hardcover = services.add_parser(
        "hardcover", help="match organized books to Hardcover and push status and progress"
    )
    hardcover.add_argument("book_ids", nargs="*", metavar="BOOK_ID", help="only these books")
    hardcover.add_argument(
        "--all",
        action="store_true",
        help="also match organized books no device has reported on (slow: 60 requests a minute)",
    )
    hardcover.add_argument("--json", action="store_true", help="print one JSON document")
    hardcover.set_defaults(handler=run_hardcover)


def _parse_ids(values: list[str]) -> list[uuid.UUID] | None:
    if not values:
        return None
    try:
        return [uuid.UUID(value) for value in values]
    except ValueError:
        raise CommandError("BOOK_ID must be a book's UUID", EXIT_USAGE) from None


def run_hardcover(context: CliContext, args: argparse.Namespace) -> int:
    # Imported here so that other commands (and the TUI) start without httpx and friends.
    from shelver.data import hardcover_sync
    from shelver.data.hardcover_sync import HardcoverAuthError, HardcoverUnavailable

    book_ids = _parse_ids(args.book_ids)

    async def run() -> list[SyncOutcome]:
        database = await context.open_database(max_size=2)
        async with database:
            return await hardcover_sync.run(
                database.pool,
                context.home.config_dir,
                context.settings.providers,
                book_ids=book_ids,
                include_unread=args.all,
            )

    try:
        outcomes = asyncio.run(run())
    except HardcoverUnavailable as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    except HardcoverAuthError as exc:
        raise CommandError(str(exc), EXIT_SOME_FAILED) from None
    failed = [o for o in outcomes if o.outcome == "error"]
    if args.json:
        print_json(
            {
                "books": [o.model_dump(mode="json") for o in outcomes],
                "errors": len(failed),
            }
        )
    else:
        for o in outcomes:
            detail = f" ({o.detail})" if o.detail else ""
            print(f"{o.title or o.book_id}: {o.outcome}{detail}")
        counts: dict[str, int] = {}
        for o in outcomes:
            counts[o.outcome] = counts.get(o.outcome, 0) + 1
        summary = ", ".join(f"{n} {name}" for name, n in sorted(counts.items())) or "no books"
        print(f"hardcover: {summary}")
    return EXIT_SOME_FAILED if failed else EXIT_OK
