"""A handler for commands that this version does not implement yet."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from shelver.app.cli.context import EXIT_USAGE, CliContext, CommandError


def not_yet(feature: str) -> Callable[[CliContext, argparse.Namespace], int]:
    """Say plainly that ``feature`` is not built yet; exit 2 so scripts can tell."""

    def handler(context: CliContext, args: argparse.Namespace) -> int:
        raise CommandError(f"'{feature}' is not available in this version yet", EXIT_USAGE)

    return handler
