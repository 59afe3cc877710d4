"""Reading progress filtered by KoSync login, under Pilot at 80x24 on a real database.

Positions are written the way ``shelver serve`` writes them (``kosync.write_batch`` with the
login that sent them); ``w`` cycles through the logins, each showing what that login sees.
"""

from __future__ import annotations

from shelver.data import position_sharing
from shelver.data.db import Database
from shelver.data.home import Home
from shelver.widgets.progress_history import HistoryChart
from tests.kosync_support import insert_login
from tests.test_reading import put
from tests.test_tui_progress import make_app, make_book, open_progress, wait_for
from tests.tui_support import SIZE, screen_text, settle

DOC_DUNE = "d" * 32
DOC_EMMA = "e" * 32


async def seed(pool) -> None:
    for name in ("alice", "bob", "carol"):
        await insert_login(pool, name, "key")
    await make_book(pool, "Dune", DOC_DUNE)
    await make_book(pool, "Emma", DOC_EMMA)
    await put(pool, DOC_DUNE, "kobo", 0.20, login="alice")
    await put(pool, DOC_DUNE, "kobo", 0.30, login="alice")
    await put(pool, DOC_DUNE, "kobo", 0.80, login="bob")  # same book, same device name
    await put(pool, DOC_EMMA, "phone", 0.50, login="bob")
    await put(pool, DOC_EMMA, "kindle", 0.10, login="carol")


def shown(screen) -> set[tuple[str, str, str | None]]:
    return {(r.title or r.document, r.device, r.login) for r in screen.rows}


async def test_the_login_filter_shows_what_each_login_sees(
    database: Database, home: Home, database_dsn
):
    await seed(database.pool)
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_progress(pilot)
        assert len(screen.rows) == 4
        text = screen_text(app)
        assert "login: all" in text and "3 logins" in text

        await pilot.press("w")  # logins by name: alice first
        await settle(pilot)
        assert shown(screen) == {("Dune", "kobo", "alice")}
        assert "login: alice" in screen_text(app)
        # The history below is alice's alone: two updates, not bob's as well.
        chart = screen.query_one("#progress-chart", HistoryChart)
        assert await wait_for(pilot, lambda: sum(map(len, chart.series.values())) == 2)

        await pilot.press("w")  # bob: his "kobo" is stored apart from alice's
        await settle(pilot)
        assert shown(screen) == {("Dune", "kobo (bob)", "bob"), ("Emma", "phone", "bob")}
        assert "login: bob" in screen_text(app)

        # The device filter works within the login.
        await pilot.press("d")
        await settle(pilot)
        assert shown(screen) == {("Dune", "kobo (bob)", "bob")}

        await pilot.press("w", "w")  # carol, then all again (the device filter started over)
        await settle(pilot)
        assert len(screen.rows) == 4
        assert "login: all" in screen_text(app)

        await pilot.press("w")
        await settle(pilot)
        await pilot.press("x")  # clear every filter
        await settle(pilot)
        assert len(screen.rows) == 4


async def test_live_updates_keep_to_the_login_shown_and_sharing_joins_logins(
    database: Database, home: Home, database_dsn
):
    await seed(database.pool)
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_progress(pilot)
        assert await wait_for(pilot, lambda: screen.listening)
        await pilot.press("w")  # alice
        await settle(pilot)
        assert await wait_for(pilot, lambda: screen.listening)
        before = screen.notices_received

        # bob reads on: his notice arrives, but alice's list stays alice's.
        await put(database.pool, DOC_DUNE, "kobo", 0.90, login="bob")
        await put(database.pool, DOC_DUNE, "kobo", 0.35, login="alice")
        assert await wait_for(pilot, lambda: screen.notices_received >= before + 2)
        assert await wait_for(pilot, lambda: [float(r.percentage) for r in screen.rows] == [0.35])
        assert shown(screen) == {("Dune", "kobo", "alice")}

        # bob turns out to be alice on another device: sharing puts his positions in her view.
        await position_sharing.share(database.pool, "bob", "alice")
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert shown(screen) == {
            ("Dune", "kobo", "alice"),
            ("Dune", "kobo (bob)", "bob"),
            ("Emma", "phone", "bob"),
        }
