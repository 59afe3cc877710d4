"""The TUI ends with its terminal: a Linux driver that notices a terminal going away.

Over SSH or in tmux the terminal can vanish at any moment (a dropped connection, a closed
window). Textual 8.2.8's Linux driver then misbehaves in two ways (Textualize/textual PR #6690):

- its input thread keeps ``select``-ing a terminal that reports end-of-file forever (a core at
  100 %), and an ``EIO`` from ``read`` ends it with a panic;
- a write to the dead terminal raises inside the writer thread, which dies; the next writes then
  block on its full queue, and shutdown (which writes the "leave the alternate screen" codes)
  never finishes, so the input thread is never told to stop either.

:class:`HangupSafeDriver` fixes both without touching Textual's internals: its output file
swallows ``OSError`` (a terminal that is gone cannot be written to, and nothing is lost by not
trying), and its own input loop stops on end-of-file, ``EIO`` or a failing ``select`` and asks
the app to exit as ``q`` would. Everything else is Textual's driver, unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import selectors
import signal
import threading
from codecs import getincrementaldecoder
from collections.abc import Callable
from typing import IO, Any

from textual._xterm_parser import XTermParser  # the parser Textual's own driver feeds
from textual.drivers.linux_driver import LinuxDriver

READ_BYTES = 4096
POLL_SECONDS = 0.1


class _TerminalOutput:
    """The driver's output file; once a write fails, the terminal is taken as gone."""

    def __init__(self, file: IO[str], on_gone: Any) -> None:
        self._file = file
        self._on_gone = on_gone
        self._gone = False

    def write(self, text: str) -> int:
        if not self._gone:
            try:
                return self._file.write(text)
            except (OSError, ValueError):  # EIO/EPIPE, or the file was closed
                self._lost()
        return len(text)

    def flush(self) -> None:
        if not self._gone:
            try:
                self._file.flush()
            except (OSError, ValueError):
                self._lost()

    def fileno(self) -> int:
        return self._file.fileno()

    def isatty(self) -> bool:
        return True

    def _lost(self) -> None:
        self._gone = True
        self._on_gone()


class HangupSafeDriver(LinuxDriver):
    """Textual's Linux driver, ending the app when its terminal goes away."""

    def __init__(self, app: Any, **options: Any) -> None:
        super().__init__(app, **options)
        self.terminal_gone = threading.Event()
        """Set once the terminal reported end-of-file or an error."""
        self._file = _TerminalOutput(self._file, self._terminal_lost)

    def _terminal_lost(self) -> None:
        if self.terminal_gone.is_set():
            return
        self.terminal_gone.set()
        # From any thread: the app leaves as if `q` was pressed (exit is idempotent) ...
        with contextlib.suppress(RuntimeError):  # the loop is closed already: nothing to stop
            self._loop.call_soon_threadsafe(self._app.exit)
        # ... and a lost terminal is a hang-up: EndsWithTerminal bounds the time it may take.
        os.kill(os.getpid(), signal.SIGHUP)

    def run_input_thread(self) -> None:
        """Read keys until told to stop, or until the terminal ends or fails."""
        parser = XTermParser(self._debug)
        decode = getincrementaldecoder("utf-8")(errors="replace").decode
        with selectors.DefaultSelector() as selector:
            try:
                selector.register(self.fileno, selectors.EVENT_READ)
            except (OSError, ValueError):
                self._terminal_lost()
                return
            while not self.exit_event.is_set():
                try:
                    ready = selector.select(POLL_SECONDS)
                    data = os.read(self.fileno, READ_BYTES) if ready else None
                except OSError:  # EIO: the terminal is gone; EBADF; select failing
                    self._terminal_lost()
                    break
                if data == b"":  # end of file: nobody will ever type here again
                    self._terminal_lost()
                    break
                if data:
                    for event in parser.feed(decode(data)):
                        self.process_message(event)
                for event in parser.tick():
                    self.process_message(event)
        with contextlib.suppress(Exception):  # flush the parser; a cut-off sequence is dropped
            for _ in parser.feed(""):
                pass


# --- signals ------------------------------------------------------------------------------

HANGUP_SIGNALS = (signal.SIGHUP, signal.SIGTERM)
GRACE_SECONDS = 0.6
"""After a hang-up or SIGTERM, how long a clean exit may take before the process is ended."""


class EndsWithTerminal:
    """While the TUI runs: SIGHUP and SIGTERM end it like ``q``, and in bounded time.

    - Before the app runs (e.g. while ``shelver demo`` seeds its library): ``SystemExit``, so
      every ``finally`` (the throwaway home's removal) still runs.
    - While it runs: the app is asked to exit, and a watchdog is armed.
    - During shutdown (the app exiting, or the clean-up after it): nothing is interrupted; the
      watchdog is armed.

    The watchdog (a daemon thread) fires ``GRACE_SECONDS`` after the first signal if the process
    is still there: it runs ``emergency`` (the clean-up that must happen anyway, made fast) and
    ends the process, so no stuck thread can keep it alive.
    """

    def __init__(
        self,
        *,
        emergency: Callable[[], None] | None = None,
        grace: float = GRACE_SECONDS,
    ) -> None:
        self.app: Any = None
        """Set once the app exists; until then a signal raises SystemExit."""
        self.shutting_down = False
        """Set by the caller once the app returned and the clean-up began."""
        self._emergency = emergency
        self._grace = grace
        self._watchdog: threading.Timer | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> EndsWithTerminal:
        self._previous = {sig: signal.signal(sig, self._on_signal) for sig in HANGUP_SIGNALS}
        return self

    def __exit__(self, *exc_info: object) -> None:
        # An armed watchdog stays armed: the process is on its way out and must get there.
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _on_signal(self, signum: int, frame: object) -> None:
        app = self.app
        if app is None and not self.shutting_down:
            raise SystemExit(128 + signum)
        self._arm(signum)
        if app is not None and app.is_running and not self.shutting_down:
            with contextlib.suppress(RuntimeError):  # no loop running at this very moment
                asyncio.get_running_loop().call_soon_threadsafe(app.exit)

    def _arm(self, signum: int) -> None:
        if self._watchdog is None:
            self._watchdog = threading.Timer(self._grace, self._end_now, args=(signum,))
            self._watchdog.daemon = True
            self._watchdog.start()

    def _end_now(self, signum: int) -> None:
        try:
            if self._emergency is not None:
                self._emergency()
        finally:
            os._exit(128 + signum)
