"""The files behind shelver's WebDAV folder: one private folder per login, confined.

``<home>/dav/users/<login>/`` is what a login sees at ``/dav/``; the version a PUT replaced
is kept in ``<home>/dav/previous/<login>/`` (same relative path). Paths arrive as the raw,
still percent-encoded URL path: :func:`parse_path` refuses ``..``, ``.``, encoded slashes and
backslashes, NUL and control characters, and every step below the folder is checked with
``lstat`` so a symbolic link (planted by anyone) is never followed.

A replacement is atomic: the body goes to a temporary file in the same folder, is flushed
and fsync'ed, then renamed over the old file, after the old one was hard-linked (or copied)
to the backup. The ETag is strong: it changes whenever the bytes can have changed (inode,
size and modification time in nanoseconds).
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import time
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from urllib.parse import unquote

MAX_FILE_BYTES = 512 * 1024 * 1024
"""The largest file a PUT may store (a heavy reader's statistics are tens of MB)."""
MAX_NAME_CHARS = 255
MAX_DEPTH = 16
_FORBIDDEN_ENCODED = re.compile(r"%(2f|5c|00)", re.IGNORECASE)


class DavPathError(Exception):
    """A path that may not be used (escapes the folder, encoded separator, symlink...)."""


@dataclass(frozen=True)
class Entry:
    """One file or folder, as a listing shows it."""

    parts: tuple[str, ...]
    is_dir: bool
    size: int
    mtime: float
    etag: str | None

    @property
    def last_modified(self) -> str:
        return formatdate(self.mtime, usegmt=True)


def parse_path(raw: str) -> tuple[str, ...]:
    """The decoded segments of a raw path below the WebDAV root ('' or '/' is the root)."""
    if _FORBIDDEN_ENCODED.search(raw):
        raise DavPathError("encoded slash, backslash or NUL in the path")
    parts = []
    for segment in raw.split("/"):
        if segment == "":
            continue
        try:
            name = unquote(segment, errors="strict")
        except UnicodeDecodeError:
            raise DavPathError("the path is not UTF-8") from None
        if name in (".", "..") or "\\" in name or "/" in name:
            raise DavPathError("'.', '..' and backslashes are not allowed in a path")
        if not name.isprintable() or len(name) > MAX_NAME_CHARS:
            raise DavPathError("control characters or an over-long name in the path")
        parts.append(name)
    if len(parts) > MAX_DEPTH:
        raise DavPathError("the path is too deep")
    return tuple(parts)


def strong_etag(info: os.stat_result) -> str:
    return f'"{info.st_ino:x}-{info.st_size:x}-{info.st_mtime_ns:x}"'


class DavFolder:
    """The folder one login sees, with its backups."""

    def __init__(self, root: Path, backups: Path) -> None:
        self.root = root
        self.backups = backups

    @classmethod
    def for_login(cls, dav_dir: Path, login: str) -> DavFolder:
        # The login is a KoSync name (printable, no colon); it becomes one path segment.
        safe = login.replace("/", "%2F").replace("\\", "%5C")
        if safe in (".", ".."):
            safe = safe.replace(".", "%2E")
        root = dav_dir / "users" / safe
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        return cls(root, dav_dir / "previous" / safe)

    def locate(self, parts: tuple[str, ...]) -> Path:
        """The real path of ``parts``; DavPathError when any step is a symbolic link."""
        current = self.root
        for name in parts:
            current = current / name
            try:
                info = os.lstat(current)
            except (FileNotFoundError, NotADirectoryError):
                continue  # the rest does not exist (yet); nothing to follow
            if stat.S_ISLNK(info.st_mode):
                raise DavPathError("symbolic links are not served")
        return current

    def entry(self, parts: tuple[str, ...]) -> Entry | None:
        """The file or folder at ``parts``; None when there is none (or not a regular one)."""
        path = self.locate(parts)
        try:
            info = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        if stat.S_ISDIR(info.st_mode):
            return Entry(parts, True, 0, info.st_mtime, None)
        if stat.S_ISREG(info.st_mode):
            return Entry(parts, False, info.st_size, info.st_mtime, strong_etag(info))
        return None

    def children(self, parts: tuple[str, ...]) -> list[Entry]:
        """The files and folders directly inside a folder (links and specials left out)."""
        folder = self.locate(parts)
        found = []
        with os.scandir(folder) as listing:
            for item in listing:
                if item.name.startswith(".shelver-"):
                    continue  # an upload in progress
                entry = self.entry((*parts, item.name))
                if entry is not None:
                    found.append(entry)
        return sorted(found, key=lambda e: (not e.is_dir, e.parts[-1]))

    def open_file(self, parts: tuple[str, ...]) -> tuple[int, Entry] | None:
        """An open descriptor of a regular file and its entry (from the open file itself)."""
        path = self.locate(parts)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        except OSError as exc:
            if exc.errno == 40:  # ELOOP: a link appeared since locate()
                raise DavPathError("symbolic links are not served") from None
            raise
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            return None
        return fd, Entry(parts, False, info.st_size, info.st_mtime, strong_etag(info))

    def temporary_file(self, parts: tuple[str, ...]) -> tuple[int, Path]:
        """A new private file beside where ``parts`` will go (the parent must exist)."""
        parent = self.locate(parts[:-1])
        if not parent.is_dir():
            raise FileNotFoundError(parent)
        name = f".shelver-upload-{os.getpid()}-{time.monotonic_ns():x}"
        path = parent / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        return fd, path

    def replace(self, parts: tuple[str, ...], written: Path) -> bool:
        """Put ``written`` (already fsync'ed) at ``parts``, keeping the old version as the
        backup; True when a file was replaced, False when it is new."""
        target = self.locate(parts)
        replaced = target.exists()
        if replaced:
            self._keep_backup(parts, target)
        os.replace(written, target)
        _fsync_folder(target.parent)
        return replaced

    def _keep_backup(self, parts: tuple[str, ...], current: Path) -> None:
        backup = self.backups.joinpath(*parts)
        backup.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        staged = backup.with_name(backup.name + ".new")
        staged.unlink(missing_ok=True)
        try:
            os.link(current, staged)
        except OSError:  # another file system, or links not allowed: copy instead
            shutil.copy2(current, staged)
        os.replace(staged, backup)

    def make_folder(self, parts: tuple[str, ...]) -> None:
        os.mkdir(self.locate(parts), 0o700)

    def delete(self, parts: tuple[str, ...]) -> None:
        """Remove a file (its last version stays as the backup) or a whole folder."""
        target = self.locate(parts)
        if target.is_dir():
            shutil.rmtree(target)
            return
        self._keep_backup(parts, target)
        target.unlink()


def write_all(fd: int, chunk: bytes) -> None:
    """Write all of ``chunk`` (os.write may write less)."""
    view = memoryview(chunk)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
