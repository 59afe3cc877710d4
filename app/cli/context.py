"""What every command needs: the home, the settings and where the database is."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from typing import Any

from shelver.data.db import Database, DatabaseTarget
from shelver.data.home import Home
from shelver.data.settings import Settings, load_settings

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_USAGE = 2


class CommandError(Exception):
    """A failure to report as one line on stderr, with an exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_SOME_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"shelver: {message} (see shelver --help)\n")


def add_global_options(parser: argparse.ArgumentParser, default: object) -> None:
    """--home, --database-url and --debug."""
    parser.add_argument(
        "--home",
        metavar="DIR",
        default=default,
        help="root of everything shelver keeps (env SHELVER_HOME; default: per-user directories)",
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        default=default,
        help="use this PostgreSQL server instead of the embedded cluster "
        "(env SHELVER_DATABASE_URL)",
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        default=default if default is argparse.SUPPRESS else False,
        help="show tracebacks on errors",
    )


class SubParser(Parser):
    """A command's parser: it accepts the global options too (``shelver demo --home X``).

    There they default to "not given", so they never overwrite a value given before the
    command. Nested commands (``db status``) use this class as well.
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        add_global_options(self, argparse.SUPPRESS)

    def add_subparsers(self, **kwargs: object):  # type: ignore[override]
        kwargs.setdefault("parser_class", SubParser)
        return super().add_subparsers(**kwargs)


@dataclass
class CliContext:
    """Resolved once per invocation from the global options."""

    home: Home
    settings: Settings
    target: DatabaseTarget
    debug: bool = False

    @classmethod
    def from_options(
        cls, home: str | None, database_url: str | None, debug: bool = False
    ) -> CliContext:
        resolved = Home.resolve(home)
        settings = load_settings(resolved.config_file)
        url = database_url or settings.database_url
        return cls(resolved, settings, DatabaseTarget.choose(resolved, url), debug)

    async def open_database(self, **kwargs: Any) -> Database:
        self.home.ensure()
        database = await Database.open(self.target, **kwargs)
        for warning in database.startup_warnings:
            print(f"shelver: warning: {warning}", file=sys.stderr)
        return database


def print_json(document: Any) -> None:
    """Write one JSON document to stdout."""
    json.dump(document, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")
