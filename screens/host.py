"""What a screen needs from the app that hosts it.

Screens and dialogs reach the running app through this protocol, never by importing the app
module: the app imports the screens, so the dependency points one way only."""

from __future__ import annotations

from typing import Protocol

from textual.worker import Worker

from shelver.data.db import Database, DatabaseTarget
from shelver.data.home import Home
from shelver.data.settings import Settings


class ShelverHost(Protocol):
    """The parts of `ShelverApp` that screens use."""

    home: Home
    settings: Settings
    target: DatabaseTarget
    database: Database | None

    @property
    def database_failure(self) -> BaseException | None: ...

    async def wait_for_database(self) -> Database: ...

    def report_worker_failure(self, worker: Worker) -> None: ...

    def show_error(self, error: BaseException) -> None: ...

    def set_heap_aside(self) -> None: ...
