"""SHA-256 and KOReader's partial MD5 of a file, in one streaming pass.

The partial MD5 (the KoSync document id) is one MD5 over 1024-byte samples at the offsets
``1024 << 2*i`` for i = -1..10, where KOReader's 32-bit shift turns i = -1 into offset 0.
Sampling stops at the first offset at or past the end of the file; a short final sample counts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CHUNK_SIZE = 1 << 20
SAMPLE_SIZE = 1024
PARTIAL_MD5_OFFSETS: tuple[int, ...] = (0, *(1024 << (2 * i) for i in range(11)))


@dataclass(frozen=True)
class FileDigest:
    """What the bytes of one file hash to."""

    size: int
    checksum: str  # SHA-256, hex
    content_hash: str  # KOReader partial MD5, hex


class _PartialMD5:
    """Collects the partial-MD5 samples from consecutive chunks of a stream."""

    def __init__(self) -> None:
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._position = 0

    def update(self, chunk: bytes | memoryview) -> None:
        start, end = self._position, self._position + len(chunk)
        for offset in PARTIAL_MD5_OFFSETS:
            if offset >= end:
                break
            sample_end = offset + SAMPLE_SIZE
            if sample_end <= start:
                continue
            # The part of this sample that lies inside this chunk (samples may span chunks).
            self._md5.update(chunk[max(offset, start) - start : min(sample_end, end) - start])
        self._position = end

    def hexdigest(self) -> str:
        return self._md5.hexdigest()


def digest_stream(source: BinaryIO, sink: BinaryIO | None = None) -> FileDigest:
    """Hash ``source`` chunk by chunk (memory stays flat), copying it to ``sink`` if given."""
    sha = hashlib.sha256()
    partial = _PartialMD5()
    size = 0
    buffer = bytearray(CHUNK_SIZE)
    view = memoryview(buffer)
    while True:
        count = source.readinto(buffer)  # type: ignore[attr-defined]
        if not count:
            break
        chunk = view[:count]
        sha.update(chunk)
        partial.update(chunk)
        if sink is not None:
            sink.write(chunk)
        size += count
    return FileDigest(size=size, checksum=sha.hexdigest(), content_hash=partial.hexdigest())


def digest_file(path: Path) -> FileDigest:
    """Hash the file at ``path``."""
    with path.open("rb") as source:
        return digest_stream(source)


def partial_md5(path: Path) -> str:
    """Only the KOReader partial MD5 of ``path`` (by seeking, as KOReader does)."""
    md5 = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as source:
        for offset in PARTIAL_MD5_OFFSETS:
            source.seek(offset)
            sample = source.read(SAMPLE_SIZE)
            if not sample:
                break
            md5.update(sample)
    return md5.hexdigest()
