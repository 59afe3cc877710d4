"""``shelver credentials add|list|passwd|remove SERVICE [USERNAME]``,
``shelver credentials share kosync LOGIN OTHER | unshare kosync LOGIN`` and
``shelver apikey create LABEL | list | revoke PREFIX``.

Secrets are read from stdin (one line; the trailing newline is dropped), or asked for twice
without echo when stdin is a terminal; they are never taken from the command line (it shows in
``ps`` and shell history). What is stored, and how, is ``data.credentials`` and
``data.api_keys``; this module only talks to the person. ``SERVICE`` may name two login services
at once (``kosync,opds``): one name and password for a device's KoSync and OPDS.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from shelver.app.cli.context import EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, CliContext, CommandError
from shelver.app.cli.context import print_json as _print_json
from shelver.data.credentials import (
    ALL_SERVICES,
    LOGIN_SERVICES,
    MAX_SECRET_CHARS,
    TOKEN_SERVICES,
)

# Kept for callers that imported them from here.
__all__ = ["LOGIN_SERVICES", "MAX_SECRET_CHARS", "TOKEN_SERVICES", "register"]


def register(commands: argparse._SubParsersAction) -> None:
    credentials = commands.add_parser(
        "credentials", help="device logins (kosync, opds) and provider tokens"
    )
    actions = credentials.add_subparsers(
        dest="credentials_command", required=True, metavar="ACTION"
    )
    services_help = f"one of {', '.join(ALL_SERVICES)}; 'kosync,opds' for both logins at once"
    add = actions.add_parser(
        "add", help="add a login or token; the secret is read from stdin (or asked for)"
    )
    add.add_argument("service", help=services_help)
    add.add_argument(
        "username", nargs="?", default=None, help="the login name (a token's defaults to 'default')"
    )
    add.add_argument("--replace", action="store_true", help="change the secret of an existing one")
    add.add_argument("--json", action="store_true", help="print one JSON document")
    add.set_defaults(handler=run_add)

    listing = actions.add_parser("list", help="list logins and tokens (never their secrets)")
    listing.add_argument("service", nargs="?", default=None, help="only this service")
    listing.add_argument("--json", action="store_true", help="print one JSON document")
    listing.set_defaults(handler=run_list)

    passwd = actions.add_parser("passwd", help="set a new password (or token) for a login")
    passwd.add_argument("service", help=services_help)
    passwd.add_argument("username", nargs="?", default=None)
    passwd.add_argument("--json", action="store_true", help="print one JSON document")
    passwd.set_defaults(handler=run_passwd)

    remove = actions.add_parser("remove", help="remove a login or token")
    remove.add_argument("service", help=services_help)
    remove.add_argument("username", nargs="?", default=None)
    remove.add_argument("--json", action="store_true", help="print one JSON document")
    remove.set_defaults(handler=run_remove)

    share = actions.add_parser(
        "share",
        help="let a kosync login share reading positions with another (one person, two logins)",
    )
    share.add_argument("service", help="kosync (positions are kept per KoSync login)")
    share.add_argument("username", help="the login that will see and continue OTHER's positions")
    share.add_argument("other", help="the login to share with (and whoever shares with it)")
    share.add_argument("--json", action="store_true", help="print one JSON document")
    share.set_defaults(handler=run_share)

    unshare = actions.add_parser(
        "unshare", help="a kosync login keeps only its own reading positions again"
    )
    unshare.add_argument("service", help="kosync")
    unshare.add_argument("username")
    unshare.add_argument("--json", action="store_true", help="print one JSON document")
    unshare.set_defaults(handler=run_unshare)

    apikey = commands.add_parser("apikey", help="API keys for scripts and readers")
    key_actions = apikey.add_subparsers(dest="apikey_command", required=True, metavar="ACTION")
    create = key_actions.add_parser("create", help="make a key (shown once)")
    create.add_argument("label", help="what the key is for, e.g. 'kobo' or 'backup script'")
    create.add_argument("--json", action="store_true", help="print one JSON document")
    create.set_defaults(handler=run_apikey_create)
    key_list = key_actions.add_parser("list", help="list keys (prefix, label, last use)")
    key_list.add_argument("--json", action="store_true", help="print one JSON document")
    key_list.set_defaults(handler=run_apikey_list)
    revoke = key_actions.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("prefix", help="the key's prefix, as `apikey list` shows it")
    revoke.add_argument("--json", action="store_true", help="print one JSON document")
    revoke.set_defaults(handler=run_apikey_revoke)


def _services(value: str) -> list[str]:
    from shelver.data.credentials import CredentialError, check_service

    try:
        services = list(dict.fromkeys(check_service(p) for p in value.split(",") if p.strip()))
    except CredentialError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    if not services:
        raise CommandError("no service given", EXIT_USAGE)
    if len(services) > 1 and any(s not in LOGIN_SERVICES for s in services):
        raise CommandError("only logins (kosync, opds) can be given together", EXIT_USAGE)
    return services


def _name(services: list[str], username: str | None) -> str:
    if username is not None:
        return username
    if all(s in TOKEN_SERVICES for s in services):
        return "default"
    raise CommandError("a login needs a USERNAME", EXIT_USAGE)


def _read_secret(what: str) -> str:
    if sys.stdin.isatty():
        first = getpass.getpass(f"{what}: ")
        if getpass.getpass(f"{what} again: ") != first:
            raise CommandError("the two entries differ; nothing was stored", EXIT_USAGE)
        secret = first
    else:
        secret = sys.stdin.readline().rstrip("\r\n")
    if not secret:
        raise CommandError(f"no {what.lower()} given on stdin; nothing was stored", EXIT_USAGE)
    if len(secret) > MAX_SECRET_CHARS:
        raise CommandError(f"the {what.lower()} is too long; nothing was stored", EXIT_USAGE)
    return secret


def _with_database(context: CliContext, work: Callable[[Any], Awaitable[Any]]) -> Any:
    """Run ``work(pool)``; a refusal from the data layer becomes one line and exit code 1."""
    from shelver.data.api_keys import ApiKeyError
    from shelver.data.credentials import CredentialError

    async def run() -> Any:
        database = await context.open_database(max_size=1)
        async with database:
            return await work(database.pool)

    try:
        return asyncio.run(run())
    except (CredentialError, ApiKeyError) as exc:
        raise CommandError(str(exc), EXIT_SOME_FAILED) from None


def _secret_word(services: list[str]) -> str:
    return "Token" if services[0] in TOKEN_SERVICES else "Password"


def _say(args: argparse.Namespace, document: dict[str, Any], line: str) -> None:
    if args.json:
        _print_json(document)
    else:
        print(line)


def run_add(context: CliContext, args: argparse.Namespace) -> int:
    from shelver.data import credentials

    services = _services(args.service)
    name = _name(services, args.username)
    try:
        credentials.check_name(name)
    except credentials.CredentialError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    secret = _read_secret(_secret_word(services))

    async def save(pool: Any) -> list[bool]:
        if not args.replace:
            for service in services:  # refuse before storing any, so none is half-added
                if await credentials.exists(pool, service, name):
                    raise credentials.CredentialError(
                        f"{service} login {name!r} already exists (use --replace to change it)"
                    )
        return [
            await credentials.add(
                pool, service, name, secret, context.home.config_dir, replace=args.replace
            )
            for service in services
        ]

    created = _with_database(context, save)
    outcome = "created" if all(created) else "replaced"
    what = " and ".join(services)
    _say(
        args,
        {"service": ",".join(services), "username": name, "outcome": outcome},
        f"{what} login {name!r} {outcome}",
    )
    return EXIT_OK


def run_list(context: CliContext, args: argparse.Namespace) -> int:
    from shelver.data import credentials, position_sharing

    only = _services(args.service) if args.service else None

    async def read(pool: Any) -> tuple[list[Any], dict[str, str]]:
        shared = await position_sharing.shared_logins(pool)
        return await credentials.list_all(pool), {s.login: s.reader for s in shared}

    rows, shares = _with_database(context, read)
    rows = [r for r in rows if only is None or r.service in only]

    def shares_with(row: Any) -> str | None:
        return shares.get(row.username) if row.service == position_sharing.SERVICE else None

    if args.json:
        _print_json(
            [
                {
                    "service": r.service,
                    "username": r.username,
                    "created_at": r.created_at,
                    "updated_at": r.updated_at,
                }
                | ({"shares_positions_with": shares_with(r)} if shares_with(r) else {})
                for r in rows
            ]
        )
        return EXIT_OK
    if not rows:
        print("no logins or tokens yet (shelver credentials add SERVICE NAME)")
    for r in rows:
        changed = r.updated_at or r.created_at
        line = f"{r.service:<13} {r.username:<30} changed {changed:%Y-%m-%d %H:%M}"
        if shares_with(r):
            line += f"  shares positions with {shares_with(r)}"
        print(line)
    return EXIT_OK


def _kosync_only(service: str) -> None:
    if _services(service) != ["kosync"]:
        raise CommandError(
            "reading positions are kept per kosync login: use `credentials share kosync ...`",
            EXIT_USAGE,
        )


def run_share(context: CliContext, args: argparse.Namespace) -> int:
    from shelver.data import position_sharing

    _kosync_only(args.service)
    group = _with_database(
        context, lambda pool: position_sharing.share(pool, args.username, args.other)
    )
    _say(
        args,
        {"service": "kosync", "username": args.username, "outcome": "shared", "group": group},
        f"kosync login {args.username!r} now shares reading positions with "
        + ", ".join(repr(name) for name in group if name != args.username),
    )
    return EXIT_OK


def run_unshare(context: CliContext, args: argparse.Namespace) -> int:
    from shelver.data import position_sharing

    _kosync_only(args.service)
    changed = _with_database(context, lambda pool: position_sharing.unshare(pool, args.username))
    outcome = "unshared" if changed else "unchanged"
    line = (
        f"kosync login {args.username!r} now sees only its own reading positions"
        if changed
        else f"kosync login {args.username!r} shared positions with no one; nothing changed"
    )
    _say(args, {"service": "kosync", "username": args.username, "outcome": outcome}, line)
    return EXIT_OK


def run_passwd(context: CliContext, args: argparse.Namespace) -> int:
    from shelver.data import credentials

    services = _services(args.service)
    name = _name(services, args.username)

    async def check(pool: Any) -> None:
        for service in services:
            if not await credentials.exists(pool, service, name):
                raise credentials.CredentialError(f"there is no {service} login {name!r}")

    _with_database(context, check)  # before asking for a password that cannot be used
    secret = _read_secret("New " + _secret_word(services).lower())

    async def change(pool: Any) -> None:
        for service in services:
            await credentials.change_secret(pool, service, name, secret, context.home.config_dir)

    _with_database(context, change)
    what = " and ".join(services)
    _say(
        args,
        {"service": ",".join(services), "username": name, "outcome": "changed"},
        f"{what} login {name!r}: secret changed",
    )
    return EXIT_OK


def run_remove(context: CliContext, args: argparse.Namespace) -> int:
    from shelver.data import credentials

    services = _services(args.service)
    name = _name(services, args.username)

    async def remove(pool: Any) -> None:
        for service in services:
            await credentials.remove(pool, service, name)

    _with_database(context, remove)
    what = " and ".join(services)
    _say(
        args,
        {"service": ",".join(services), "username": name, "outcome": "removed"},
        f"{what} login {name!r} removed",
    )
    return EXIT_OK


def run_apikey_create(context: CliContext, args: argparse.Namespace) -> int:
    from shelver.data import api_keys

    try:
        api_keys.check_label(args.label)
    except api_keys.ApiKeyError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    key, row = _with_database(context, lambda pool: api_keys.create(pool, args.label))
    if args.json:
        _print_json({"key": key, "prefix": row.key_prefix, "label": row.label})
    else:
        print(key)
        print(
            f"API key {row.key_prefix} ({row.label}) created. It is shown only now: use it as "
            "the password of any login name (OPDS) or as 'Authorization: Bearer KEY'.",
            file=sys.stderr,
        )
    return EXIT_OK


def run_apikey_list(context: CliContext, args: argparse.Namespace) -> int:
    from shelver.data import api_keys

    rows = _with_database(context, api_keys.list_all)
    if args.json:
        _print_json([r.model_dump(mode="json", exclude={"id"}) for r in rows])
        return EXIT_OK
    if not rows:
        print("no API keys (shelver apikey create LABEL)")
    for r in rows:
        used = f"{r.last_used_at:%Y-%m-%d %H:%M}" if r.last_used_at else "never used"
        print(f"{r.key_prefix}  {r.label:<30} created {r.created_at:%Y-%m-%d}  {used}")
    return EXIT_OK


def run_apikey_revoke(context: CliContext, args: argparse.Namespace) -> int:
    from shelver.data import api_keys

    row = _with_database(context, lambda pool: api_keys.revoke(pool, args.prefix))
    _say(
        args,
        {"prefix": row.key_prefix, "label": row.label, "outcome": "revoked"},
        f"API key {row.key_prefix} ({row.label}) revoked",
    )
    return EXIT_OK
