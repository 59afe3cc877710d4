"""Covers and thumbnails: JPEG, made once from the stored cover and cached under the home.

The cache file is named after the cover file and its size and modification time, so a new
cover makes a new thumbnail; making one runs in a thread (Pillow), and concurrent requests for
the same thumbnail share one run.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

THUMBNAIL_SIZE = (240, 360)
COVER_MAX_SIZE = (1200, 1800)
JPEG_QUALITY = 85


class CoverError(Exception):
    """The stored cover cannot be read as an image."""


def _render(source: Path, target: Path, size: tuple[int, int]) -> None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(source) as image:
            image.draft("RGB", size)  # JPEG decodes at a smaller scale directly: far faster
            image = image.convert("RGB")
            image.thumbnail(size)
            partial = target.with_name(f".{target.name}.{os.getpid()}.part")
            target.parent.mkdir(parents=True, exist_ok=True)
            image.save(partial, "JPEG", quality=JPEG_QUALITY, optimize=True)
            os.replace(partial, target)
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as exc:
        raise CoverError(f"{source.name}: {type(exc).__name__}") from None


class CoverCache:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._pending: dict[Path, asyncio.Future[Path]] = {}

    def _target(self, source: Path, kind: str) -> Path:
        stat = source.stat()
        key = f"{source}\x00{stat.st_size}\x00{stat.st_mtime_ns}\x00{kind}"
        digest = hashlib.blake2b(key.encode("utf-8", "surrogateescape"), digest_size=16)
        name = digest.hexdigest()
        return self.folder / name[:2] / f"{name}-{kind}.jpg"

    async def image(self, source: Path, kind: str) -> Path:
        """The cached JPEG of ``source`` (``thumbnail`` or ``cover``), made when missing.

        A cover that is already a JPEG of a reasonable size is sent as it is."""
        if kind == "cover" and source.suffix.lower() in (".jpg", ".jpeg"):
            return source
        target = self._target(source, kind)
        if target.exists():
            return target
        pending = self._pending.get(target)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Path] = asyncio.get_running_loop().create_future()
        self._pending[target] = future
        try:
            size = THUMBNAIL_SIZE if kind == "thumbnail" else COVER_MAX_SIZE
            await asyncio.to_thread(_render, source, target, size)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()
            raise
        finally:
            self._pending.pop(target, None)
        future.set_result(target)
        return target
