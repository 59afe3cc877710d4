"""The ``shelver`` command: argument parsing, dispatch, exit codes and one-line errors."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

from shelver.app.cli import (
    commands_calibre,
    commands_credentials,
    commands_db,
    commands_fetch,
    commands_import,
    commands_search,
    commands_serve,
    commands_stats,
    commands_sync,
    commands_tui,
    commands_web,
)
from shelver.app.cli.context import (
    EXIT_SOME_FAILED,
    EXIT_USAGE,
    CliContext,
    CommandError,
    Parser,
    SubParser,
    add_global_options,
)
from shelver.data.cluster import ClusterError
from shelver.data.db import DatabaseUnavailable
from shelver.data.migrations import MigrationError
from shelver.data.settings import ConfigError

# Each module adds its sub-commands; the order is the order of `shelver --help`.
COMMAND_MODULES = (
    commands_import,
    commands_calibre,
    commands_fetch,
    commands_search,
    commands_serve,
    commands_web,
    commands_stats,
    commands_sync,
    commands_credentials,
    commands_db,
    commands_tui,
)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="shelver",
        description="A keyboard-driven ebook library manager for the terminal.",
    )
    add_global_options(parser, None)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=SubParser)
    for module in COMMAND_MODULES:
        module.register(commands)
    parser.set_defaults(handler=commands_tui.run_tui)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        context = CliContext.from_options(args.home, args.database_url, args.debug)
        code = args.handler(context, args) or 0
        sys.stdout.flush()  # here, so a reader that went away is caught below
        return code
    except BrokenPipeError:
        # `shelver search --json | head`: the reader has what it wanted. End quietly, and keep
        # Python from complaining when it flushes stdout again at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("shelver: interrupted", file=sys.stderr)
        return 130
    except (ConfigError, CommandError, DatabaseUnavailable, ClusterError, MigrationError) as exc:
        if args.debug:
            traceback.print_exc()
        code = (
            exc.exit_code
            if isinstance(exc, CommandError)
            else (EXIT_USAGE if isinstance(exc, ConfigError) else EXIT_SOME_FAILED)
        )
        print(f"shelver: {exc}", file=sys.stderr)
        return code
    except Exception as exc:  # the last line of defence: never a bare traceback
        if args.debug:
            traceback.print_exc()
        print(
            f"shelver: unexpected error: {type(exc).__name__}: {exc} "
            "(run with --debug for details)",
            file=sys.stderr,
        )
        return EXIT_SOME_FAILED
