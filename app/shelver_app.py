"""The Textual app: five top-level screens as modes, the database opened in the background,
and one place where failures become a readable dialog."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import traceback
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import ClassVar

from textual import events, work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.driver import Driver
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import Input, TextArea
from textual.worker import Worker, WorkerCancelled, WorkerState

from shelver.app import stylesheet_cache
from shelver.data.db import Database, DatabaseTarget
from shelver.data.home import Home
from shelver.data.settings import Settings
from shelver.screens.base import LIVE_WORKERS, ShelverScreen
from shelver.screens.dialogs.error import DialogChoice, ErrorDialog, describe_failure
from shelver.screens.messages import DatabaseOpened
from shelver.widgets.mode_bar import MODE_TABS

POOL_CLOSE_SECONDS = 5.0


# Screens are imported when first shown, so start-up only pays for the Inbox.
def _inbox() -> Screen:
    from shelver.screens.inbox import InboxScreen

    return InboxScreen()


def _review() -> Screen:
    from shelver.screens.review import ReviewScreen

    return ReviewScreen()


def _library() -> Screen:
    from shelver.screens.library import LibraryScreen

    return LibraryScreen()


def _progress() -> Screen:
    from shelver.screens.progress import ProgressScreen

    return ProgressScreen()


def _settings() -> Screen:
    from shelver.screens.settings import SettingsScreen

    return SettingsScreen()


def screen_actions(screen: Screen) -> Iterable[SystemCommand]:
    """Every action of ``screen`` (its bindings with a description), for the command palette."""
    from shelver.screens.dialogs.keys import bindings_of

    seen: set[str] = set()
    for binding in bindings_of(screen):
        if not binding.description or binding.action in seen:
            continue
        seen.add(binding.action)
        if screen.check_action(binding.action.partition("(")[0], ()) is False:
            continue  # not possible now (e.g. no book on screen)

        async def run(action: str = binding.action) -> None:
            await screen.run_action(action)

        key = binding.key_display or binding.key
        yield SystemCommand(binding.description, f"{screen.TITLE}: key {key}", run)


class ShelverApp(App[None]):
    """shelver's terminal UI."""

    TITLE = "shelver"
    CSS_PATH = "shelver.tcss"
    DEFAULT_MODE = "inbox"
    MODES: ClassVar = {
        "inbox": _inbox,
        "review": _review,
        "library": _library,
        "progress": _progress,
        "settings": _settings,
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        *(
            # The mode bar shows these (each tab's key underlined): the footer keeps its room
            # for the current screen's own keys.
            Binding(
                tab.key,
                f"switch_mode({tab.mode!r})",
                f"Open {tab.label}",
                id=f"mode.{tab.mode}",
                show=False,
            )
            for tab in MODE_TABS
        ),
        Binding("ctrl+r", "refresh", "Refresh", id="refresh", show=False),
        # "? keys" and "q quit" are on the mode bar's right.
        Binding("question_mark", "show_keys", "Keys of this screen", id="keys", show=False),
        Binding("escape", "hide_keys_panel", "Close the keys panel", show=False, priority=True),
        Binding("q", "quit", "Quit", id="quit", show=False),
    ]

    def __init__(
        self,
        *,
        home: Home,
        settings: Settings,
        target: DatabaseTarget,
        watch_inbox: bool = True,
    ) -> None:
        stylesheet_cache.install()  # a screen's first showing re-parses no stylesheet
        super().__init__()
        self.watch_inbox = watch_inbox
        """Import files dropped into the inbox folder while the app runs."""
        self._watch_stop = asyncio.Event()
        self._watcher: Worker[None] | None = None
        self.home = home
        self.settings = settings
        self.target = target
        self.database: Database | None = None
        """The open database, once the start-up worker has opened it."""
        self._database_future: asyncio.Future[Database] | None = None
        self._errors_shown: set[str] = set()
        self._open_attempts = 0

    def get_driver_class(self) -> type[Driver]:
        """Textual's driver, except on Linux/macOS terminals: one that ends the app with its
        terminal (app/terminal.py)."""
        from textual.drivers.linux_driver import LinuxDriver

        from shelver.app.terminal import HangupSafeDriver

        driver = super().get_driver_class()
        return HangupSafeDriver if driver is LinuxDriver else driver

    # The database --------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.open_database()
        self._start_watching()

    def _start_watching(self) -> None:
        """Start the inbox folder watcher (again, after a failed open was retried)."""
        running = self._watcher is not None and not self._watcher.is_finished
        if self.watch_inbox and not running and not self._watch_stop.is_set():
            # It runs for the app's whole life: a worker of the long-running group, which
            # waiting for "all work done" leaves out.
            self._watcher = self.run_worker(
                self._watch_inbox_folder(),
                name="inbox-watcher",
                group=LIVE_WORKERS,
                exit_on_error=False,
            )

    async def _watch_inbox_folder(self) -> None:
        """Run the inbox folder watcher once the database is open; the Inbox shows arrivals."""
        from shelver.data.importing.process_pools import prepare_process_pools
        from shelver.data.watcher import watch_inbox

        try:
            database = await self.wait_for_database()
        except Exception:
            return  # the open failure has its own dialog; a successful retry starts us again
        prepare_process_pools()  # on the UI thread: it swaps sys.stderr for a moment
        try:
            await watch_inbox(
                database,
                self.home,
                stop_event=self._watch_stop,
                on_report=self._inbox_arrivals,
                inbox_dir=self.settings.inbox_dir,
                on_problem=lambda problem: self.notify(problem, severity="warning"),
            )
        except Exception as error:
            self.show_error(error)

    def _inbox_arrivals(self, report: object) -> None:
        screen = self._current_base_screen()
        if hasattr(screen, "inbox_changed"):
            screen.inbox_changed(report)

    def _pending_future(self) -> asyncio.Future[Database]:
        """The future that waiting screens await; a new one once the last has been settled."""
        if self._database_future is None or self._database_future.done():
            self._database_future = asyncio.get_running_loop().create_future()
        return self._database_future

    @work(exclusive=True, group="database", exit_on_error=False)
    async def open_database(self) -> Database:
        """Start the cluster if needed, connect and migrate, without holding up the first frame."""
        self._open_attempts += 1
        future = self._pending_future()
        try:
            database = await Database.open(self.target, max_size=4)
        except BaseException as error:
            if isinstance(error, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(error)
                future.exception()  # the dialog reports it; don't warn "never retrieved"
            raise
        self.database = database
        future.set_result(database)
        for warning in database.startup_warnings:  # e.g. a library move a crash left behind
            self.notify(warning, title="At start-up", severity="warning", timeout=30)
        return database

    async def wait_for_database(self) -> Database:
        """The open database; waits while it opens, raises what opening it raised."""
        if self.database is not None:
            return self.database
        future = self._database_future or self._pending_future()
        return await asyncio.shield(future)

    @property
    def database_failure(self) -> BaseException | None:
        """Why the last attempt to open the database failed (None: open, opening, or untried)."""
        future = self._database_future
        if self.database is None and future is not None and future.done():
            return None if future.cancelled() else future.exception()
        return None

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.report_worker_failure(event.worker)
        if event.worker.group == "database" and event.state == WorkerState.SUCCESS:
            self.call_after_refresh(self.set_heap_aside)
        if (
            event.worker.group == "database"
            and event.state == WorkerState.SUCCESS
            and self._open_attempts > 1
        ):
            # After a retry the screen's earlier load has failed: have it load again. (On the
            # first attempt its load is still waiting for this database and goes on by itself.)
            self._current_base_screen().post_message(DatabaseOpened(event.worker.result))
            self._start_watching()

    def set_heap_aside(self) -> None:
        """Move everything alive into the garbage collector's permanent generation, at a
        moment nobody waits (the database open and the first frame drawn; a screen built
        ahead of its key). Start-up's and kept screens' objects (modules, classes, the app,
        its screens, the pool) live as long as the app, yet every full collection walked them
        all again: 50-170 ms on a busy 2-core machine, inside whatever key press allocated
        last (the reading calendar's first opening paid 222 ms, mostly that). Full
        collections now walk only what was made since. The young generation is collected
        first, so the fresh garbage of the work just done is not kept for good."""
        gc.collect(0)
        gc.freeze()

    def report_worker_failure(self, worker: Worker) -> None:
        """The single place where a failed worker becomes an error dialog (never a traceback)."""
        if worker.state == WorkerState.ERROR and worker.error is not None:
            self.show_error(worker.error)

    def show_error(self, error: BaseException) -> None:
        failure = describe_failure(error)
        self._log_error(error)
        if failure.message in self._errors_shown:
            return  # the same failure is already on screen (several screens hit it at once)
        self._errors_shown.add(failure.message)

        def closed(choice: DialogChoice | None) -> None:
            self._errors_shown.discard(failure.message)
            if choice == "retry":
                self.action_refresh()
            elif choice == "quit":
                self.exit()

        self.push_screen(ErrorDialog(failure), closed)

    def _log_error(self, error: BaseException) -> None:
        """Keep the traceback the dialog does not show (best effort: logging must not fail)."""
        try:
            self.home.logs_dir.mkdir(parents=True, exist_ok=True)
            with (self.home.logs_dir / "tui-errors.log").open("a", encoding="utf-8") as log:
                log.write(f"--- {datetime.now(UTC).isoformat(timespec='seconds')}\n")
                log.writelines(traceback.format_exception(error))
        except OSError:
            pass

    async def finish_work(self) -> None:
        """Wait until every worker is done but the loops that run until stopped
        (``LIVE_WORKERS``: the inbox watcher, live feeds); for tests and benchmarks."""
        for worker in [w for w in self.workers if w.group != LIVE_WORKERS]:
            # One replaced by a newer one of its group (exclusive) is not waited for.
            with contextlib.suppress(WorkerCancelled):
                await worker.wait()

    async def on_unmount(self) -> None:
        """Closing the app stops the watcher and closes the pool (forcefully if need be)."""
        gc.unfreeze()  # what start-up set aside can be collected again (tests run many apps)
        if self._watcher is not None:
            self._watch_stop.set()
            try:
                await asyncio.wait_for(self._watcher.wait(), POOL_CLOSE_SECONDS)
            except (TimeoutError, Exception):
                self._watcher.cancel()
        if self.database is None:
            return
        try:
            await asyncio.wait_for(self.database.close(), POOL_CLOSE_SECONDS)
        except (TimeoutError, Exception):
            self.database.pool.terminate()
        self.database = None

    # Keys in the order they were typed -----------------------------------------------------

    async def on_event(self, event: events.Event) -> None:
        # Textual hands a key to the focused text field, which inserts a character at once;
        # a key it binds (ctrl+u, backspace, left, enter...) bubbles up through every parent's
        # queue before its binding runs, so characters typed in the same burst (tmux
        # send-keys, a paste-like typist, a slow link) were inserted first and then wiped or
        # moved. Such a key runs its binding from the field's own queue instead: in order.
        focused = self.focused if isinstance(event, events.Key) else None
        if (
            isinstance(event, events.Key)
            and not event.is_forwarded
            and bound_in_text_field(focused, event)
        ):
            assert focused is not None
            self.app_focus = True
            if not await self._check_bindings(event.key, priority=True):
                focused.call_later(self._key_in_order, focused, event)
            return
        await super().on_event(event)

    async def _key_in_order(self, field: Widget, event: events.Key) -> None:
        """A key the text field binds, after every key typed before it was handled."""
        for binding in field._bindings.key_to_bindings.get(event.key, ()):
            if await self.run_action(binding.action, field):
                return
        if not await self._check_bindings(event.key):  # as if it had bubbled up to here
            await super()._on_key(event)

    # Navigation and commands ---------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # While a dialog is open its keys win: "r" retries rather than opening Review, and the
        # screens underneath stay where they are.
        if action == "hide_keys_panel":  # escape is the screen's unless the panel is open
            return bool(self.screen.query("HelpPanel"))
        blocked = action in {"switch_mode", "refresh", "show_keys"} and isinstance(
            self.screen, ModalScreen
        )
        return not blocked

    def action_show_keys(self) -> None:
        from shelver.screens.dialogs.keys import KeysDialog, bindings_of

        self.push_screen(KeysDialog(self._current_base_screen(), bindings_of(self)))

    def action_hide_keys_panel(self) -> None:
        self.action_hide_help_panel()

    def _current_base_screen(self) -> Screen:
        return self.screen_stack[0]

    def action_refresh(self) -> None:
        """Reload the current screen; if the database never opened, try opening it again."""
        if self.database is None:
            future = self._database_future
            if future is None or future.done():
                self.open_database()
                return
        screen = self._current_base_screen()
        if isinstance(screen, ShelverScreen):
            screen.reload()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for tab in MODE_TABS:
            yield SystemCommand(
                tab.label,
                f"Open the {tab.label} screen (key {tab.key})",
                lambda mode=tab.mode: self.switch_mode(mode),
            )
        yield SystemCommand("Refresh", "Load the current screen's rows again", self.action_refresh)
        yield from screen_actions(self._current_base_screen())
        yield from super().get_system_commands(screen)


def bound_in_text_field(focused: Widget | None, event: events.Key) -> bool:
    """Is this a key the focused text field binds itself (not a character it inserts)?"""
    if not isinstance(focused, Input | TextArea) or event.is_printable:
        return False
    # Textual keeps a widget's own bindings (merged with its bases') in ``_bindings``.
    return bool(focused._bindings.key_to_bindings.get(event.key))
