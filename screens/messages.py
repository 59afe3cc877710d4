"""Messages the app and its screens exchange (children tell parents through messages)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from shelver.data.db import Database


@dataclass
class DatabaseOpened(Message):
    """The database became usable (at start-up or after a retry): screens load their rows."""

    database: Database


@dataclass
class RefreshRequested(Message):
    """The user asked for fresh rows on the current screen."""
