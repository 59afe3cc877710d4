"""Settings: where things live, which database is used, its migrations, device logins and the
metadata providers. Read-only for now; nothing secret is ever shown."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import unquote

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from shelver.data import credentials, overview
from shelver.data.db import Database
from shelver.data.migrations import MigrationState
from shelver.data.migrations import status as migration_status
from shelver.data.models import ServiceCredential
from shelver.data.overview import DatabaseCounts, redact_dsn
from shelver.screens.base import ShelverScreen
from shelver.screens.styles import stylesheet
from shelver.widgets.format import relative_time


@dataclass(frozen=True)
class SettingsView:
    counts: DatabaseCounts
    migrations: list[MigrationState]
    credentials: list[ServiceCredential]


def facts_table(rows: list[tuple[str, RenderableType]]) -> Table:
    """A two-column label/value table without borders."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True, min_width=14)
    table.add_column(overflow="fold")
    for label, value in rows:
        table.add_row(label, value)
    return table


def section(title: str, body: RenderableType) -> Group:
    return Group(Text(title, style="bold underline"), body)


class SettingsScreen(ShelverScreen):
    """Configuration and database facts, one section after another (scroll with the arrows)."""

    MODE = "settings"
    TITLE = "Settings"
    CSS_PATH = stylesheet(__file__, "settings.tcss")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("h", "hardcover", "Sync with Hardcover", id="settings.hardcover"),
    ]

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="settings-scroll"):
            yield Static(id="settings-home", classes="settings-section")
            yield Static(id="settings-database", classes="settings-section")
            yield Static(id="settings-migrations", classes="settings-section")
            yield Static(id="settings-credentials", classes="settings-section")
            yield Static(id="settings-providers", classes="settings-section")

    def on_mount(self) -> None:
        # What needs no database is shown at once.
        self.query_one("#settings-home", Static).update(self.home_section())
        self.query_one("#settings-providers", Static).update(self.providers_section())
        self.query_one("#settings-scroll", VerticalScroll).focus()

    async def fetch(self, database: Database) -> SettingsView:
        async with database.pool.acquire() as conn:
            migrations = await migration_status(conn)
        counts, logins = await asyncio.gather(
            overview.database_counts(database.pool), credentials.list_all(database.pool)
        )
        return SettingsView(counts, migrations, logins)

    def present(self, view: SettingsView) -> None:
        applied = sum(1 for m in view.migrations if m.applied_at is not None)
        self.set_heading(f"{applied} of {len(view.migrations)} migrations applied")
        self.query_one("#settings-database", Static).update(self.database_section(view.counts))
        self.query_one("#settings-migrations", Static).update(
            self.migrations_section(view.migrations)
        )
        self.query_one("#settings-credentials", Static).update(
            self.credentials_section(view.credentials)
        )

    # Sections -------------------------------------------------------------------------------

    def home_section(self) -> Group:
        home = self.shelver.home
        settings = self.shelver.settings
        return section(
            "Home",
            facts_table(
                [
                    ("Config file", str(home.config_file)),
                    ("Inbox", str(settings.inbox_dir or home.inbox_dir)),
                    ("Library", str(settings.library_dir or home.library_dir)),
                    ("Rejected", str(home.rejected_dir)),
                    ("Covers", str(home.covers_dir)),
                    ("Logs", str(home.logs_dir)),
                    ("File names", settings.library_template),
                ]
            ),
        )

    def database_section(self, counts: DatabaseCounts) -> Group:
        target = self.shelver.target
        where = (
            f"embedded cluster in {target.cluster.data_dir}"
            if target.cluster
            else "the server of --database-url / the config"
        )
        return section(
            "Database",
            facts_table(
                [
                    ("Using", where),
                    ("DSN", unquote(redact_dsn(target.dsn))),
                    ("Books", f"{counts.books:,} ({counts.files:,} files)"),
                    ("Candidates", f"{counts.candidates:,} from providers"),
                    (
                        "Reading",
                        f"{counts.documents:,} documents on {counts.devices:,} devices, "
                        f"{counts.history_entries:,} history entries",
                    ),
                    ("API keys", f"{counts.api_keys:,}"),
                ]
            ),
        )

    def migrations_section(self, migrations: list[MigrationState]) -> Group:
        table = Table.grid(padding=(0, 2))
        for state in migrations:
            if not state.checksum_matches:
                when = Text("changed after it was applied!", "bold red")
            elif state.applied_at is None:
                when = Text("pending", "yellow")
            else:
                when = Text(f"applied {relative_time(state.applied_at)}", "green")
            table.add_row(f"{state.version:04d}", state.name, when)
        return section("Migrations", table)

    def credentials_section(self, logins: list[ServiceCredential]) -> Group:
        if not logins:
            return section(
                "Logins",
                Text.from_markup(
                    "[dim]None yet. Add one for a KOReader device with[/dim] "
                    "shelver credentials add kosync NAME"
                ),
            )
        table = Table.grid(padding=(0, 2))
        for login in logins:
            # Usernames only: password hashes and tokens never leave the database.
            table.add_row(
                login.service,
                login.username,
                Text(f"added {relative_time(login.created_at)}", "dim"),
            )
        return section("Logins", table)

    def providers_section(self) -> Group:
        providers = self.shelver.settings.providers
        return section(
            "Metadata providers",
            facts_table(
                [
                    ("Google Books", providers.google_books_url),
                    ("Hardcover", providers.hardcover_url),
                    ("Hardcover rate", f"{providers.hardcover_requests_per_minute} requests/min"),
                    ("Kept per source", f"{providers.max_candidates_per_source} candidates"),
                    ("Time limit", f"{providers.timeout_seconds:g} s per request"),
                ]
            ),
        )

    # Hardcover (the Reading progress screen has the same action) ---------------------------

    def action_hardcover(self) -> None:
        """Sync with Hardcover now: the sync log opens and shows each book's outcome."""
        from shelver.screens.sync_log import SyncLogScreen

        self.app.push_screen(SyncLogScreen(sync_now=True))
