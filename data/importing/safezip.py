"""Opening ZIP-based books without falling for zip bombs.

Python's zipfile never inflates a member past its declared size, so capping the declared sizes
and the entry count up front, and reading members with a cap, bounds memory and time.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from shelver.data.importing.errors import Refused

MAX_ENTRIES = 20_000
MAX_TOTAL_INFLATED = 4 << 30  # 4 GiB: large comic archives are real
MAX_RATIO = 200  # inflated / compressed for one big member: text compresses ~5x, bombs ~1000x
RATIO_MIN_SIZE = 16 << 20  # small members may compress well without harm
MEMBER_CAP = 16 << 20  # metadata files and covers read into memory


def open_zip(path: Path) -> zipfile.ZipFile:
    """The archive at ``path``, checked against the caps; Refused when it is broken or a bomb."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise Refused(f"broken ZIP archive (truncated or corrupt: {exc})") from None
    except (OSError, ValueError, NotImplementedError) as exc:
        raise Refused(f"unreadable ZIP archive: {exc}") from None
    try:
        check_archive(archive)
    except Refused:
        archive.close()
        raise
    return archive


def check_archive(archive: zipfile.ZipFile) -> None:
    infos = archive.infolist()
    if len(infos) > MAX_ENTRIES:
        raise Refused(f"suspicious ZIP archive: {len(infos)} entries (limit {MAX_ENTRIES})")
    total = 0
    for info in infos:
        total += info.file_size
        if info.file_size > RATIO_MIN_SIZE and info.file_size > MAX_RATIO * max(
            info.compress_size, 1
        ):
            raise Refused(
                f"suspicious ZIP archive (zip bomb?): {info.filename!r} inflates "
                f"{info.compress_size} bytes to {info.file_size}"
            )
    if total > MAX_TOTAL_INFLATED:
        raise Refused(f"suspicious ZIP archive (zip bomb?): inflates to {total} bytes")


def read_member(archive: zipfile.ZipFile, name: str, cap: int = MEMBER_CAP) -> bytes:
    """The bytes of one member, at most ``cap`` of them; Refused when it is missing or broken."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise Refused(f"the archive lacks {name!r}") from None
    if info.file_size > cap:
        raise Refused(f"{name!r} is too large ({info.file_size} bytes, limit {cap})")
    try:
        with archive.open(info) as member:
            data = member.read(cap + 1)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise Refused(f"cannot read {name!r} from the archive: {exc}") from None
    except RuntimeError as exc:  # zipfile raises this for encrypted members
        raise Refused(f"{name!r} is password-protected: {exc}", drm=True) from None
    if len(data) > cap:
        raise Refused(f"{name!r} is too large (limit {cap} bytes)")
    return data


def find_member(archive: zipfile.ZipFile, name: str) -> str | None:
    """The stored name matching ``name`` case-insensitively (real files get case wrong)."""
    names = archive.namelist()
    if name in names:
        return name
    wanted = name.casefold()
    return next((n for n in names if n.casefold() == wanted), None)
