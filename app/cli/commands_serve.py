"""``shelver serve [--host 127.0.0.1] [--port 8765]``."""

from __future__ import annotations

import argparse

from app.cli.placeholder import not_yet


def register(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser("serve", help="KoSync server for KOReader; watches the inbox")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument(
        "--allow-registration", action="store_true", help="let devices create their own logins"
    )
    serve.set_defaults(handler=not_yet("shelver serve"))
