"""``shelver db migrate | status | url | start | stop | drop | prune``."""

from __future__ import annotations

import argparse
import asyncio
import sys

from shelver.app.cli.context import EXIT_OK, EXIT_USAGE, CliContext, CommandError, print_json
from shelver.data import migrations
from shelver.data.cluster import StoredCluster, abandoned_clusters


def register(commands: argparse._SubParsersAction) -> None:
    db = commands.add_parser("db", help="manage the database")
    actions = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    for name, handler, text in (
        ("migrate", _migrate, "apply pending migrations"),
        ("status", _status, "list migrations and whether each is applied"),
        ("url", _url, "print the DSN (psql and asyncpg accept it)"),
        ("start", _start, "start the embedded cluster"),
        ("stop", _stop, "stop the embedded cluster and wait until it is down"),
        ("drop", _drop, "stop this home's embedded cluster and delete its data for good"),
        ("prune", _prune, "delete embedded clusters nothing uses (home gone or aliased)"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("--json", action="store_true", help="print one JSON document")
        if name in ("drop", "prune"):
            action.add_argument("--yes", action="store_true", help="do not ask for confirmation")
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
    orphans = abandoned_clusters() if context.target.cluster is not None else []
    if args.json:
        print_json(
            {
                "database": context.target.description,
                "abandoned_clusters": [_describe(c) for c in orphans],
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
        for orphan in orphans:
            print(f"cluster {orphan.root} {orphan.why_abandoned}; `shelver db prune` removes it")
    return EXIT_OK


def _describe(found: StoredCluster) -> dict:
    return {
        "folder": str(found.root),
        "home": str(found.home_pg.parent) if found.home_pg else None,
        "running": found.running,
        "reason": found.why_abandoned,
        "bytes": found.size_bytes(),
    }


def _confirm(args: argparse.Namespace, question: str) -> None:
    """Ask before deleting; without a terminal, only --yes will do."""
    if args.yes:
        return
    if not sys.stdin.isatty():
        raise CommandError(f"{question}: refusing without --yes (no terminal to ask)", EXIT_USAGE)
    answer = input(f"{question}? Type 'yes' to confirm: ").strip().lower()
    if answer != "yes":
        raise CommandError("nothing was deleted", EXIT_USAGE)


def _drop(context: CliContext, args: argparse.Namespace) -> int:
    cluster = _require_cluster(context)
    existed = cluster.is_initialised()
    _confirm(args, f"delete the database of {context.home.data_dir} ({cluster.data_dir})")
    cluster.drop()
    if args.json:
        print_json({"dropped": existed, "data_dir": str(cluster.data_dir)})
    else:
        print(f"dropped {cluster.data_dir}" if existed else "no database to drop")
    return EXIT_OK


def _prune(context: CliContext, args: argparse.Namespace) -> int:
    _require_cluster(context)
    orphans = abandoned_clusters()
    if orphans and not args.json:
        for orphan in orphans:
            print(f"{orphan.root}: {orphan.why_abandoned}")
    if orphans:
        _confirm(args, f"delete {len(orphans)} cluster(s) nothing uses")
    removed, busy = [], []
    for orphan in orphans:
        (removed if orphan.drop() else busy).append(str(orphan.root))
    if args.json:
        print_json({"removed": removed, "busy": busy})
    else:
        print(f"removed {len(removed)} cluster(s)" + (f", {len(busy)} in use" if busy else ""))
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
