"""The TUI ends with its terminal: a real ``shelver`` on a real pseudo-terminal, for each way a
terminal goes away (SSH dropping, a tmux window closed, a kill), as sshd and tmux run it: under
a shell, with the pty as its controlling terminal.

Each case checks that the process is gone within 2 s of the event (the guarantee of
app/terminal.py's watchdog), whatever thread was running.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.kosync_support import shelver_env

EXIT_DEADLINE = 2.0


@dataclass
class PtySession:
    shell: subprocess.Popen[bytes]
    master: int | None
    shelver_pid: int
    output: bytearray

    def read_until(self, needle: bytes, timeout: float = 60) -> bool:
        deadline = time.monotonic() + timeout
        while needle not in self.output and time.monotonic() < deadline:
            if not self.pump(0.1):
                break
        return needle in self.output

    def pump(self, timeout: float) -> bool:
        """Read what the TUI wrote (a full pty would block it); False once the pty is closed."""
        if self.master is None:
            return False
        ready, _, _ = select.select([self.master], [], [], timeout)
        if ready:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return False
            if not chunk:
                return False
            self.output.extend(chunk)
        return True

    def type(self, keys: bytes) -> None:
        assert self.master is not None
        os.write(self.master, keys)

    def close_terminal(self) -> None:
        if self.master is not None:
            os.close(self.master)
            self.master = None

    def alive(self) -> bool:
        try:
            state = Path(f"/proc/{self.shelver_pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return False
        return state != "Z"

    def seconds_until_gone(self, limit: float = 15) -> float:
        started = time.monotonic()
        while self.alive() and time.monotonic() - started < limit:
            self.pump(0.02)
        return time.monotonic() - started


def _child_of(pid: int, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except FileNotFoundError:
            children = []
        if children:
            return int(children[0])
        time.sleep(0.02)
    raise AssertionError("the shell did not start shelver")


def _make_controlling_terminal() -> None:  # runs in the child, after setsid
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


@pytest.fixture
def tui_on_pty(request: pytest.FixtureRequest, tmp_path: Path, database_dsn: str):
    """shelver under a shell on a new pty; with the parameter False, the pty is not the
    session's controlling terminal, so closing it sends no SIGHUP: only EOF/EIO tell."""
    home = f'--home "{tmp_path / "home"}"'
    yield from _on_pty(home, shelver_env(database_dsn), getattr(request, "param", True))


def _on_pty(arguments: str, env: dict[str, str], controlling: bool) -> Iterator[PtySession]:
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env["TERM"] = "xterm-256color"
    env["PYTHONFAULTHANDLER"] = "1"
    command = f'"{sys.executable}" -m shelver {arguments}; true'
    shell = subprocess.Popen(
        ["/bin/sh", "-c", command],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
        preexec_fn=_make_controlling_terminal if controlling else None,
    )
    os.close(slave)
    session = PtySession(shell, master, _child_of(shell.pid), bytearray())
    try:
        assert session.read_until(b"Inbox"), session.output[-2000:]
        yield session
    finally:
        for pid in (session.shelver_pid, shell.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        session.close_terminal()
        shell.wait(timeout=30)


def _settle(session: PtySession) -> None:
    """Let the app finish starting (its first screen loaded) before the terminal goes."""
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        session.pump(0.05)


def _wait(session: PtySession, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        session.pump(0.01)


def _end(session: PtySession, how: str) -> None:
    if how == "close":
        session.close_terminal()
    else:
        # A quit already under way may have finished first: then it ended on its own.
        with contextlib.suppress(ProcessLookupError):
            os.kill(session.shelver_pid, getattr(signal, how))


@pytest.mark.parametrize("how", ["SIGHUP", "SIGTERM", "close"])
def test_the_tui_ends_with_its_terminal(tui_on_pty: PtySession, how: str):
    _settle(tui_on_pty)
    _end(tui_on_pty, how)
    assert tui_on_pty.seconds_until_gone() < EXIT_DEADLINE


@pytest.mark.parametrize("tui_on_pty", [False], ids=["eof-only"], indirect=True)
def test_a_closed_terminal_alone_ends_the_tui(tui_on_pty: PtySession):
    """Not the session's controlling terminal: no SIGHUP comes, so shelver must notice the
    dead terminal (EOF, EIO) itself."""
    _settle(tui_on_pty)
    tui_on_pty.close_terminal()
    assert tui_on_pty.seconds_until_gone() < EXIT_DEADLINE


@pytest.mark.parametrize(
    ("delay", "how"),
    [(0.2, "close"), (0.3, "close"), (0.4, "close"), (0.0, "SIGTERM"), (0.05, "SIGTERM")],
)
def test_the_terminal_goes_while_shutting_down(tui_on_pty: PtySession, delay: float, how: str):
    """ctrl+q, then the window closes (or SIGTERM comes) while shelver is shutting down
    (issue 14, finding 1)."""
    _settle(tui_on_pty)
    tui_on_pty.type(b"\x11")
    _wait(tui_on_pty, delay)
    _end(tui_on_pty, how)
    assert tui_on_pty.seconds_until_gone() < EXIT_DEADLINE


@pytest.mark.parametrize("ending", ["close", "quit-then-SIGTERM"])
def test_demo_removes_its_throwaway_home_and_cluster(tmp_path: Path, ending: str):
    """`shelver demo` builds a cluster in a throwaway home; however it ends, both go."""
    from shelver.data.cluster import EmbeddedCluster
    from shelver.data.home import Home

    env = dict(os.environ)
    env.pop("SHELVER_DATABASE_URL", None)
    env.pop("SHELVER_HOME", None)
    env["TMPDIR"] = str(tmp_path)
    sessions = _on_pty("demo", env, True)
    session = next(sessions)
    try:
        (throwaway,) = tmp_path.glob("shelver-demo-*")
        cluster = EmbeddedCluster(Home.at(throwaway))
        pid = cluster.server_pid()
        assert pid is not None
        _settle(session)
        if ending.startswith("quit"):
            session.type(b"\x11")
            _wait(session, 0.1)
        _end(session, ending.rpartition("-")[2])
        assert session.seconds_until_gone() < EXIT_DEADLINE
        assert not throwaway.exists()
        assert not cluster.root.exists()
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()
    finally:
        sessions.close()
