"""``shelver db migrate | status | url | start | stop``."""

from __future__ import annotations

import argparse
import asyncio

from shelver.app.cli.context import EXIT_OK, EXIT_USAGE, CliContext, CommandError, print_json
from shelver.data import migrations


def register(commands: argparse._SubParsersAction) -> None:
    db = commands.add_parser("db", help="manage the database")
    actions = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    for name, handler, text in (
        ("migrate", _migrate, "apply pending migrations"),
        ("status", _status, "list migrations and whether each is applied"),
        ("url", _url, "print the DSN (psql and asyncpg accept it)"),
        ("start", _start, "start the embedded cluster"),
        ("stop", _stop, "stop the embedded cluster and wait until it is down"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("--json", action="store_true", help="print one JSON document")
        action.set_defaults(handler=handler)


def _migrate(context: CliContext, args: argparse.Namespace) -> int:
    async def run() -> list[migrations.Migration]:
        database = await context.open_database(apply_migrations=False, max_size=1)
        async with database, database.pool.acquire() as conn:
            return await migrations.migrate(conn)

    applied = asyncio.run(run())
    if args.json:
        print_json({"applied": [m.filename for m in applied]})
    elif applied:
        for migration in applied:
            print(f"applied {migration.filename}")
    else:
        print("nothing to apply: the database is up to date")
    return EXIT_OK


def _status(context: CliContext, args: argparse.Namespace) -> int:
    async def run() -> list[migrations.MigrationState]:
        database = await context.open_database(apply_migrations=False, max_size=1)
        async with database, database.pool.acquire() as conn:
            return await migrations.status(conn)

    states = asyncio.run(run())
    if args.json:
        print_json(
            {
                "database": context.target.description,
                "migrations": [
                    {
                        "version": s.version,
                        "name": s.name,
                        "applied_at": s.applied_at.isoformat() if s.applied_at else None,
                        "checksum_matches": s.checksum_matches,
                    }
                    for s in states
                ],
            }
        )
    else:
        for s in states:
            state = s.applied_at.strftime("applied %Y-%m-%d %H:%M") if s.applied_at else "pending"
            warning = "" if s.checksum_matches else "  (file changed since it was applied!)"
            print(f"{s.version:04d}_{s.name:<30} {state}{warning}")
    return EXIT_OK


def _url(context: CliContext, args: argparse.Namespace) -> int:
    if args.json:
        print_json({"url": context.target.dsn, "embedded": context.target.cluster is not None})
    else:
        print(context.target.dsn)
    return EXIT_OK


def _require_cluster(context: CliContext):
    if context.target.cluster is None:
        raise CommandError(
            "a --database-url is set: shelver does not start or stop that server",
            EXIT_USAGE,
        )
    return context.target.cluster


def _start(context: CliContext, args: argparse.Namespace) -> int:
    cluster = _require_cluster(context)
    context.home.ensure()
    started = cluster.ensure_running()
    if args.json:
        print_json({"started": started, "data_dir": str(cluster.data_dir)})
    else:
        print(f"started ({cluster.data_dir})" if started else "already running")
    return EXIT_OK


def _stop(context: CliContext, args: argparse.Namespace) -> int:
    cluster = _require_cluster(context)
    stopped = cluster.stop()
    if args.json:
        print_json({"stopped": stopped})
    else:
        print("stopped" if stopped else "not running")
    return EXIT_OK
