"""The Settings screen's editing, every action driven from the keyboard under Pilot at 80x24."""

from __future__ import annotations

from textual import events
from textual.widgets import DataTable, Input, Static

from shelver.data import books, credentials
from shelver.data.device_auth import DeviceAuthenticator
from shelver.data.home import Home
from shelver.data.models import BookFields, BookStatus
from shelver.data.passwords import verify_secret
from shelver.data.settings import load_settings
from shelver.screens.dialogs.confirm import ConfirmDialog
from shelver.screens.dialogs.settings_forms import (
    ApiKeyDialog,
    FoldersDialog,
    LoginDialog,
    ShowKeyDialog,
    TemplateDialog,
    TokenDialog,
)
from tests.tui_support import SIZE, make_app, plain, screen_text, settle


async def open_settings(pilot) -> None:
    await settle(pilot)
    await pilot.press("s")
    await settle(pilot)


async def opened(pilot, dialog: type) -> None:
    """Pause until ``dialog`` is on top (an action's worker opens it and waits for its answer,
    so ``settle`` would wait for the answer too)."""
    for _ in range(500):
        if isinstance(pilot.app.screen, dialog):
            return
        await pilot.pause(0.01)
    raise AssertionError(f"{dialog.__name__} did not open; on top: {pilot.app.screen}")


def emptied(pilot, selector: str) -> Input:
    field = pilot.app.screen.query_one(selector, Input)
    field.focus()
    field.value = ""
    return field


async def type_into(pilot, selector: str, text: str) -> None:
    emptied(pilot, selector)
    await pilot.press(*text) if text else None
    await pilot.pause()


async def paste_into(pilot, selector: str, text: str) -> None:
    """A folder path the way people enter one: pasted (the terminal sends it as one event)."""
    emptied(pilot, selector).post_message(events.Paste(text))
    await pilot.pause()


async def test_add_change_and_remove_a_login(database, database_dsn, home: Home) -> None:
    pool = database.pool
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        await open_settings(pilot)
        assert "None yet" in screen_text(app)
        await pilot.press("a")
        await opened(pilot, LoginDialog)
        await type_into(pilot, "#login-name", "kobo")
        await type_into(pilot, "#login-password", "pw one")
        await type_into(pilot, "#login-again", "pw two")
        await pilot.press("enter")
        await pilot.pause()
        assert "differ" in plain(app.screen.query_one("#form-error", Static).content)
        await type_into(pilot, "#login-again", "pw one")
        await pilot.press("enter")
        await settle(pilot)
        # Both services by default: one login for a KOReader device.
        rows = {(c.service, c.username) for c in await credentials.list_all(pool)}
        assert rows == {("kosync", "kobo"), ("opds", "kobo")}
        text = screen_text(app)
        assert "kobo" in text and "pw one" not in text
        auth = DeviceAuthenticator(pool, login_ttl=0)
        assert await auth.check("kobo", "pw one")

        # The same name again is refused with a notice, nothing changes.
        await pilot.press("a")
        await opened(pilot, LoginDialog)
        await type_into(pilot, "#login-name", "kobo")
        await type_into(pilot, "#login-password", "x")
        await type_into(pilot, "#login-again", "x")
        await pilot.press("enter")
        await settle(pilot)
        assert any("already exists" in str(n.message) for n in app._notifications)

        # c: a new password for the selected (first: kosync) login.
        table = app.screen.query_one("#settings-logins", DataTable)
        table.focus()
        table.move_cursor(row=1)  # opds
        await pilot.press("c")
        await opened(pilot, LoginDialog)
        await type_into(pilot, "#login-password", "new pw")
        await type_into(pilot, "#login-again", "new pw")
        await pilot.press("enter")
        await settle(pilot)
        assert await auth.check("kobo", "new pw")
        assert await auth.check("kobo", "pw one", services=("kosync",))  # the other untouched

        # x: remove the selected login after a confirmation.
        app.screen.query_one("#settings-logins", DataTable).move_cursor(row=0)
        await pilot.press("x")
        await opened(pilot, ConfirmDialog)
        await pilot.press("y")
        await settle(pilot)
        rows = {(c.service, c.username) for c in await credentials.list_all(pool)}
        assert rows == {("opds", "kobo")}


async def test_logins_sharing_reading_positions_are_shown(database, database_dsn, home: Home):
    from shelver.data import position_sharing

    pool = database.pool
    for name in ("ereader", "phone", "partner"):
        await credentials.add(pool, "kosync", name, "pw", home.config_dir)
    await credentials.add(pool, "opds", "ereader", "pw", home.config_dir)
    await position_sharing.share(pool, "phone", "ereader")
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        await open_settings(pilot)
        table = app.screen.query_one("#settings-logins", DataTable)
        rows = {
            (str(row[0]), str(row[1])): str(row[3])
            for row in (table.get_row_at(i) for i in range(table.row_count))
        }
        assert rows == {
            ("kosync", "ereader"): "shared with phone",
            ("kosync", "partner"): "own",
            ("kosync", "phone"): "shared with ereader",
            ("opds", "ereader"): "",
        }
        assert "credentials share kosync" in screen_text(app)


async def test_provider_token_is_masked_and_sealed(database, database_dsn, home: Home) -> None:
    app = make_app(home, database_dsn)
    token = "hc-secret-token-1234"
    async with app.run_test(size=SIZE) as pilot:
        await open_settings(pilot)
        assert "not set" in screen_text(app)
        await pilot.press("t")
        await opened(pilot, TokenDialog)
        field = app.screen.query_one("#token-value", Input)
        assert field.password  # masked while typed
        await pilot.press(*token)
        await pilot.press("enter")
        await settle(pilot)
        text = screen_text(app)
        assert token not in text and "set  ••••••••" in text
    stored = await database.pool.fetchval(
        "SELECT password_hash FROM service_credentials WHERE service = 'hardcover'"
    )
    assert stored.startswith("fernet$") and token not in stored


async def test_api_key_shown_once_then_revoked(database, database_dsn, home: Home) -> None:
    pool = database.pool
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        await open_settings(pilot)
        await pilot.press("k")
        await opened(pilot, ApiKeyDialog)
        await pilot.press(*"tablet")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ShowKeyDialog)
        key = plain(app.screen.query_one("#show-key-value", Static).content).strip()
        assert key.startswith("shv_")
        await pilot.press("enter")
        await settle(pilot)
        text = screen_text(app)
        assert "tablet" in text and key not in text and key.split("_")[1] in text
        auth = DeviceAuthenticator(pool)
        assert await auth.check("any", key)
        await pilot.press("v")
        await opened(pilot, ConfirmDialog)
        await pilot.press("y")
        await settle(pilot)
        assert await auth.check("any", key) is None
        assert await pool.fetchval("SELECT count(*) FROM api_keys") == 0


async def test_folders_are_saved_to_the_config(database, database_dsn, home: Home, tmp_path):
    home.config_file.write_text('# my settings\nlibrary_template = "{author}/{title}"\n')
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        await open_settings(pilot)
        await pilot.press("f")
        await opened(pilot, FoldersDialog)
        await type_into(pilot, "#folder-inbox", "relative/path")
        await pilot.press("enter")
        await pilot.pause()
        assert "absolute" in plain(app.screen.query_one("#form-error", Static).content)
        await paste_into(pilot, "#folder-inbox", str(tmp_path / "drop"))
        await paste_into(pilot, "#folder-library", str(tmp_path / "books"))
        await pilot.press("enter")
        await settle(pilot)
        assert str(tmp_path / "books") in screen_text(app)
    saved = load_settings(home.config_file, {})
    assert saved.inbox_dir == tmp_path / "drop" and saved.library_dir == tmp_path / "books"
    text = home.config_file.read_text()
    assert text.startswith("# my settings") and "{author}/{title}" in text


async def test_template_preview_with_a_hostile_title(database, database_dsn, home: Home):
    pool = database.pool
    for title, author in (
        ("../../etc/passwd", "Mallory/../Root"),
        ("Normal Book", "Ann Author"),
        ("CON", "<aux>?*"),
    ):
        book = await books.insert(
            pool, BookFields(title=title, author=author), status=BookStatus.ORGANIZED
        )
        await books.add_file(
            pool,
            book.id,
            format="epub",
            original_name="../../evil name.epub",
            file_size=1,
            checksum=None,
            content_hash=None,
        )
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        await open_settings(pilot)
        await pilot.press("e")
        await opened(pilot, TemplateDialog)
        preview = app.screen.query_one("#template-preview", Static)
        lines = plain(preview.content).strip().splitlines()
        assert len(lines) == 3
        for line in lines:
            parts = line.split("/")
            assert ".." not in parts and "" not in parts and line.endswith(".epub")
        await type_into(pilot, "#template-value", "{year}/{nope}")
        await pilot.pause()
        assert "unknown placeholder" in plain(app.screen.query_one("#form-error", Static).content)
        await type_into(pilot, "#template-value", "{language}/{author} - {title}")
        await pilot.pause()
        lines = plain(preview.content).strip().splitlines()
        assert any(line.startswith("und/Ann Author - Normal Book") for line in lines)
        await pilot.press("enter")
        await settle(pilot)
        assert app.settings.library_template == "{language}/{author} - {title}"
    assert load_settings(home.config_file, {}).library_template == "{language}/{author} - {title}"
    assert verify_secret  # (imported for the login test; keeps one import list)


async def test_koreader_addresses_are_shown(database, database_dsn, home: Home) -> None:
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        await open_settings(pilot)
        text = screen_text(app)
        assert ":8765/opds" in text and "Custom sync server: http://" in text


async def test_escape_cancels_every_form(database, database_dsn, home: Home) -> None:
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        await open_settings(pilot)
        for key, dialog in zip(
            "atkfe",
            (LoginDialog, TokenDialog, ApiKeyDialog, FoldersDialog, TemplateDialog),
            strict=True,
        ):
            await pilot.press(key)
            await opened(pilot, dialog)
            await pilot.press("escape")
            await settle(pilot)
            assert type(app.screen).__name__ == "SettingsScreen"
    assert await database.pool.fetchval("SELECT count(*) FROM service_credentials") == 0
