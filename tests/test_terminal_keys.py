"""Keys as a real terminal delivers them: in tmux, ``send-keys`` writes a burst (ctrl+u and the
letters after it) in one go, and what the screen shows afterwards is read back with
``capture-pane``. Each text field must take the burst in the order it was typed."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kosync_support import shelver_env

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")


class Tmux:
    def __init__(self, name: str) -> None:
        self.name = name

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def screen(self) -> str:
        result = subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", self.name], capture_output=True, text=True
        )
        return result.stdout

    def wait_for(self, text: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            shown = self.screen()
            if text in shown:
                return shown
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared on screen:\n{self.screen()}")


@pytest.fixture
def tui_in_tmux(tmp_path: Path, database_dsn: str) -> Iterator[Tmux]:
    name = f"shelver-keys-{uuid.uuid4().hex[:8]}"
    env = shelver_env(database_dsn)
    command = shlex.join([sys.executable, "-m", "shelver", "--home", str(tmp_path / "home")])
    exports = [f"{k}={shlex.quote(env[k])}" for k in ("SHELVER_DATABASE_URL", "PATH")]
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", name, "-x", "80", "-y", "24",
         f"env {' '.join(exports)} {command}"],
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    try:
        session = Tmux(name)
        session.wait_for("Inbox")
        yield session
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)


def test_a_burst_after_ctrl_u_lands_in_the_field(tui_in_tmux: Tmux, tmp_path: Path) -> None:
    tui_in_tmux.keys("+")  # the import dialog: a path field holding the start folder
    tui_in_tmux.wait_for("Import")
    time.sleep(0.5)
    tui_in_tmux.keys("C-u", "zzqq/typed")  # one write: ctrl+u, then the letters
    tui_in_tmux.wait_for("zzqq/typed", timeout=10)
    tui_in_tmux.keys("BSpace", "BSpace", "BSpace", "BSpace", "BSpace", "ok")
    shown = tui_in_tmux.wait_for("zzqq/ok", timeout=10)
    assert "zzqq/typed" not in shown
