"""Settings: where things live, which database is used, its migrations, device logins, provider
tokens, API keys and the metadata providers, and the addresses to type into KOReader.

Editable from the keyboard: logins (a add, c change password, x remove), provider tokens (t),
API keys (k create, shown once; v revoke), folders (f) and the file-name template (e, with a
live preview). Nothing secret is ever shown: tokens are masked, passwords and keys hashed."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import ClassVar
from urllib.parse import unquote

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from shelver.data import api_keys, credentials, organize, overview, position_sharing
from shelver.data.api_keys import ApiKey
from shelver.data.credentials import LOGIN_SERVICES, TOKEN_SERVICES
from shelver.data.db import Database
from shelver.data.migrations import MigrationState
from shelver.data.migrations import status as migration_status
from shelver.data.models import ServiceCredential
from shelver.data.overview import DatabaseCounts, redact_dsn
from shelver.screens.base import ShelverScreen
from shelver.screens.styles import stylesheet
from shelver.widgets.format import relative_time
from shelver.widgets.text_table import TextTable


@dataclass(frozen=True)
class SettingsView:
    counts: DatabaseCounts
    migrations: list[MigrationState]
    credentials: list[ServiceCredential]
    keys: list[ApiKey] = field(default_factory=list)
    shared: dict[str, str] = field(default_factory=dict)
    """KoSync login -> the login whose reading positions it shares (``credentials share``)."""


SERVE_PORT = 8765
"""``shelver serve``'s default port, for the addresses shown for KOReader."""


def positions_cell(login: ServiceCredential, shared: dict[str, str]) -> Text:
    """Whose reading positions a KoSync login's devices see: its own, or shared with another
    login's (other services keep none)."""
    if login.service != position_sharing.SERVICE:
        return Text("")
    reader = shared.get(login.username)
    if reader is not None:
        return Text(f"shared with {reader}", "yellow")
    readers = sorted(name for name, head in shared.items() if head == login.username)
    if readers:
        return Text(f"shared with {', '.join(readers)}", "yellow")
    return Text("own", "dim")


def lan_address() -> str:
    """This machine's address on its network (what a reader on the same Wi-Fi types), found
    by asking the kernel which source address it would use; no packet is sent."""
    import socket

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed anywhere
            return str(probe.getsockname()[0])
    except OSError:
        return "127.0.0.1"


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
        Binding("a", "add_login", "Add login", id="settings.add_login"),
        Binding("c", "password", "Change password", id="settings.password"),
        Binding("x", "remove_login", "Remove login", id="settings.remove_login"),
        Binding("t", "token", "Provider token", id="settings.token"),
        Binding("k", "create_key", "New API key", id="settings.create_key"),
        Binding("v", "revoke_key", "Revoke key", id="settings.revoke_key"),
        Binding("f", "folders", "Folders", id="settings.folders"),
        Binding("e", "template", "File names", id="settings.template"),
        Binding("h", "hardcover", "Sync with Hardcover", id="settings.hardcover"),
    ]

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="settings-scroll"):
            yield Static(id="settings-home", classes="settings-section")
            yield Static(id="settings-koreader", classes="settings-section")
            yield Static(id="settings-credentials", classes="settings-section")
            yield TextTable(id="settings-logins", cursor_type="row", zebra_stripes=True)
            yield Static(id="settings-tokens", classes="settings-section")
            yield Static(id="settings-keys-title", classes="settings-section")
            yield TextTable(id="settings-keys", cursor_type="row", zebra_stripes=True)
            yield Static(id="settings-database", classes="settings-section")
            yield Static(id="settings-migrations", classes="settings-section")
            yield Static(id="settings-providers", classes="settings-section")

    def on_mount(self) -> None:
        # What needs no database is shown at once.
        self.query_one("#settings-home", Static).update(self.home_section())
        self.query_one("#settings-providers", Static).update(self.providers_section())
        self.query_one("#settings-koreader", Static).update(self.koreader_section())
        logins = self.query_one("#settings-logins", DataTable)
        logins.add_columns("Service", "Name", "Changed", "Positions")
        keys = self.query_one("#settings-keys", DataTable)
        keys.add_columns("Prefix", "Label", "Created", "Last used")
        self.query_one("#settings-scroll", VerticalScroll).focus()

    async def fetch(self, database: Database) -> SettingsView:
        async with database.pool.acquire() as conn:
            migrations = await migration_status(conn)
        counts, logins, keys, shared = await asyncio.gather(
            overview.database_counts(database.pool),
            credentials.list_all(database.pool),
            api_keys.list_all(database.pool),
            position_sharing.shared_logins(database.pool),
        )
        return SettingsView(counts, migrations, logins, keys, {s.login: s.reader for s in shared})

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
        self._fill_logins(view.credentials, view.shared)
        self.query_one("#settings-tokens", Static).update(self.tokens_section(view.credentials))
        self.query_one("#settings-keys-title", Static).update(self.keys_section(view.keys))
        self._fill_keys(view.keys)

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
        devices = [c for c in logins if c.service in LOGIN_SERVICES]
        if not devices:
            hint = Text.from_markup(
                "[dim]None yet: press[/dim] a [dim]to add one for a KOReader device (or run[/dim] "
                "shelver credentials add kosync,opds NAME[dim]).[/dim]"
            )
        else:
            hint = Text.from_markup(
                "[dim]a add · c change password · x remove (the selected login). Each kosync "
                "login keeps its own reading positions; one person with two logins: "
                "[/dim]shelver credentials share kosync NAME OTHER"
            )
        return section("Device logins", hint)

    def _fill_logins(self, logins: list[ServiceCredential], shared: dict[str, str]) -> None:
        table = self.query_one("#settings-logins", DataTable)
        selected = self.selected_login()
        table.clear()
        devices = [c for c in logins if c.service in LOGIN_SERVICES]
        for login in devices:
            # Names only: password hashes never leave the database.
            table.add_row(
                login.service,
                Text(login.username),
                relative_time(login.updated_at or login.created_at),
                positions_cell(login, shared),
                key=f"{login.service}\x1f{login.username}",
            )
        table.display = bool(devices)
        if selected is not None:
            with contextlib.suppress(Exception):
                table.move_cursor(row=table.get_row_index("\x1f".join(selected)))

    def selected_login(self) -> tuple[str, str] | None:
        table = self.query_one("#settings-logins", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value or ""
        service, _, name = key.partition("\x1f")
        return service, name

    def tokens_section(self, logins: list[ServiceCredential]) -> Group:
        present = {c.service for c in logins if c.service in TOKEN_SERVICES}
        names = {"hardcover": "Hardcover", "google_books": "Google Books"}
        rows: list[tuple[str, RenderableType]] = [
            (
                names[service],
                Text("set  ••••••••", "green") if service in present else Text("not set", "dim"),
            )
            for service in TOKEN_SERVICES
        ]
        rows.append(("", Text("t sets or replaces a token (typed once, never shown)", "dim")))
        return section("Provider tokens", facts_table(rows))

    def keys_section(self, keys: list[ApiKey]) -> Group:
        hint = (
            "k creates a key (shown once) · v revokes the selected key"
            if keys
            else "None yet: k creates one (for a script, or as an OPDS reader's password)."
        )
        return section("API keys", Text(hint, "dim"))

    def _fill_keys(self, keys: list[ApiKey]) -> None:
        table = self.query_one("#settings-keys", DataTable)
        table.clear()
        for key in keys:
            table.add_row(
                key.key_prefix,
                Text(key.label),
                relative_time(key.created_at),
                relative_time(key.last_used_at) if key.last_used_at else "never",
                key=key.key_prefix,
            )
        table.display = bool(keys)

    def selected_key(self) -> str | None:
        table = self.query_one("#settings-keys", DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def koreader_section(self) -> Group:
        base = f"http://{lan_address()}:{SERVE_PORT}"
        return section(
            "KOReader (run shelver serve; use its --port if you changed it)",
            facts_table(
                [
                    ("Progress sync", f"Custom sync server: {base}"),
                    ("OPDS catalogue", f"{base}/opds"),
                    ("Statistics", f"WebDAV: {base}/dav/"),
                    ("Login", "a device login below (or an API key as the password)"),
                ]
            ),
        )

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

    # Editing ------------------------------------------------------------------------------

    async def _database(self) -> Database:
        return await self.shelver.wait_for_database()

    async def _store(self, work, done: str) -> bool:
        """Run ``work(pool)``; a refusal becomes a notice, success reloads the screen."""
        from shelver.data.api_keys import ApiKeyError
        from shelver.data.credentials import CredentialError

        try:
            await work((await self._database()).pool)
        except (CredentialError, ApiKeyError) as exc:
            self.notify(str(exc), severity="error", markup=False)
            return False
        self.notify(done, markup=False)
        self.reload()
        return True

    @work(group="settings-edit")
    async def action_add_login(self) -> None:
        from shelver.screens.dialogs.settings_forms import LoginDialog

        form = await self.app.push_screen_wait(LoginDialog())
        if form is None:
            return
        config = self.shelver.home.config_dir

        async def add(pool) -> None:
            for service in form.services:  # refuse before storing any: none half-added
                if await credentials.exists(pool, service, form.name):
                    raise credentials.CredentialError(
                        f"{service} login {form.name!r} already exists (c changes its password)"
                    )
            for service in form.services:
                await credentials.add(pool, service, form.name, form.password, config)

        await self._store(add, f"{' and '.join(form.services)} login {form.name!r} added")

    @work(group="settings-edit")
    async def action_password(self) -> None:
        from shelver.screens.dialogs.settings_forms import LoginDialog

        selected = self.selected_login()
        if selected is None:
            self.notify("No login to change: a adds one.", severity="warning")
            return
        service, name = selected
        form = await self.app.push_screen_wait(LoginDialog(service=service, name=name))
        if form is None:
            return
        config = self.shelver.home.config_dir
        await self._store(
            lambda pool: credentials.change_secret(pool, service, name, form.password, config),
            f"{service} login {name!r}: password changed",
        )

    @work(group="settings-edit")
    async def action_remove_login(self) -> None:
        from shelver.screens.dialogs.confirm import ConfirmDialog

        selected = self.selected_login()
        if selected is None:
            self.notify("No login to remove.", severity="warning")
            return
        service, name = selected
        question = ConfirmDialog(
            "Remove login",
            f"Remove the {service} login {name!r}? Devices using it are refused from now on.",
            yes="Remove",
        )
        if not await self.app.push_screen_wait(question):
            return
        await self._store(
            lambda pool: credentials.remove(pool, service, name),
            f"{service} login {name!r} removed",
        )

    @work(group="settings-edit")
    async def action_token(self) -> None:
        from shelver.screens.dialogs.settings_forms import TokenDialog

        answer = await self.app.push_screen_wait(TokenDialog())
        if answer is None:
            return
        service, token = answer
        config = self.shelver.home.config_dir
        await self._store(
            lambda pool: credentials.add(pool, service, "default", token, config, replace=True),
            f"{service} token saved",
        )

    @work(group="settings-edit")
    async def action_create_key(self) -> None:
        from shelver.screens.dialogs.settings_forms import ApiKeyDialog, ShowKeyDialog

        label = await self.app.push_screen_wait(ApiKeyDialog())
        if label is None:
            return
        made: list[tuple[str, ApiKey]] = []

        async def create(pool) -> None:
            made.append(await api_keys.create(pool, label))

        if await self._store(create, f"API key {label!r} created"):
            key, row = made[0]
            self.app.push_screen(ShowKeyDialog(key, row.label))

    @work(group="settings-edit")
    async def action_revoke_key(self) -> None:
        from shelver.screens.dialogs.confirm import ConfirmDialog

        prefix = self.selected_key()
        if prefix is None:
            self.notify("No API key to revoke.", severity="warning")
            return
        question = ConfirmDialog(
            "Revoke API key", f"Revoke the key {prefix}? It stops working at once.", yes="Revoke"
        )
        if not await self.app.push_screen_wait(question):
            return
        await self._store(lambda pool: api_keys.revoke(pool, prefix), f"API key {prefix} revoked")

    def _save_settings(self, changes: dict[str, str | None], done: str) -> None:
        from shelver.data.settings import ConfigError, save_settings

        try:
            self.shelver.settings = save_settings(self.shelver.home.config_file, changes)
        except ConfigError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        self.query_one("#settings-home", Static).update(self.home_section())
        self.notify(done, markup=False)

    @work(group="settings-edit")
    async def action_folders(self) -> None:
        from shelver.screens.dialogs.settings_forms import FoldersDialog

        home, settings = self.shelver.home, self.shelver.settings
        answer = await self.app.push_screen_wait(
            FoldersDialog(
                settings.inbox_dir or home.inbox_dir, settings.library_dir or home.library_dir
            )
        )
        if answer is None:
            return
        self._save_settings(
            {"inbox_dir": str(answer[0]), "library_dir": str(answer[1])},
            "Folders saved (shelver serve picks them up when it starts again)",
        )

    @work(group="settings-edit")
    async def action_template(self) -> None:
        from shelver.screens.dialogs.settings_forms import TemplateDialog

        samples = await organize.sample_files((await self._database()).pool, 3)

        def preview(template: str) -> list[str]:
            try:
                return [
                    str(organize.relative_path(template, s.fields, s.original_name, s.format))
                    for s in samples
                ]
            except organize.OrganizeError as exc:
                raise ValueError(str(exc)) from None

        template = await self.app.push_screen_wait(
            TemplateDialog(self.shelver.settings.library_template, preview)
        )
        if template is None:
            return
        self._save_settings(
            {"library_template": template}, "File names saved (used for books approved from now on)"
        )

    # Hardcover (the Reading progress screen has the same action) ---------------------------

    def action_hardcover(self) -> None:
        """Sync with Hardcover now: the sync log opens and shows each book's outcome."""
        from shelver.screens.sync_log import SyncLogScreen

        self.app.push_screen(SyncLogScreen(sync_now=True))
