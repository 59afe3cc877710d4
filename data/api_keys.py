"""API keys for scripts and readers: ``shv_<prefix>_<secret>``, shown once, stored hashed.

The row keeps the prefix (to find the key and to name it when revoking) and a slow salted hash
of the secret; the key itself is never stored. A key is checked through
:class:`data.passwords.KeyVerifier`, so only its first use pays for the hash. Revoking deletes
the row: the next request looks the prefix up again and is refused at once.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from datetime import datetime
from uuid import UUID

from shelver.data.books import Executor
from shelver.data.models import Row
from shelver.data.passwords import hash_secret
from shelver.data.queries import query

KEY_PREFIX = "shv_"
PREFIX_CHARS = 8
MAX_LABEL_CHARS = 200
# shv_ + 8 lowercase letters/digits + _ + 43 url-safe characters (32 random bytes).
KEY_PATTERN = re.compile(r"^shv_([a-z0-9]{8})_([A-Za-z0-9_-]{20,128})$")
PREFIX_PATTERN = re.compile(r"^(?:shv_)?([a-z0-9]{8})$")
_PREFIX_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


class ApiKeyError(ValueError):
    """A label or prefix that cannot be used; one readable line."""


class ApiKey(Row):
    """A row of ``api_keys`` without its hash."""

    id: UUID
    key_prefix: str
    label: str
    created_at: datetime
    last_used_at: datetime | None = None


def split_key(key: str) -> tuple[str, str] | None:
    """(prefix, secret) of a well-formed key, else None."""
    match = KEY_PATTERN.match(key)
    return (match.group(1), match.group(2)) if match else None


def check_label(label: str) -> str:
    label = " ".join(label.split())
    if not label or len(label) > MAX_LABEL_CHARS or not label.isprintable():
        raise ApiKeyError(f"a label is 1-{MAX_LABEL_CHARS} printable characters")
    return label


def check_prefix(prefix: str) -> str:
    match = PREFIX_PATTERN.match(prefix.strip())
    if match is None:
        raise ApiKeyError(f"{prefix!r} is not a key prefix (8 letters and digits, as listed)")
    return match.group(1)


async def create(db: Executor, label: str) -> tuple[str, ApiKey]:
    """A new key: (the full key, to show once; its row)."""
    label = check_label(label)
    for _ in range(5):  # a prefix collision is rare (36^8); try another one
        prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(PREFIX_CHARS))
        secret = secrets.token_urlsafe(32)
        hashed = await asyncio.to_thread(hash_secret, secret)
        try:
            record = await db.fetchrow(query("api_key_insert"), prefix, hashed, label)
        except Exception as exc:  # unique violation on key_prefix
            if type(exc).__name__ != "UniqueViolationError":
                raise
            continue
        return f"{KEY_PREFIX}{prefix}_{secret}", ApiKey.from_record(record)
    raise ApiKeyError("could not find a free key prefix; try again")


async def list_all(db: Executor) -> list[ApiKey]:
    return [ApiKey.from_record(r) for r in await db.fetch(query("api_key_list"))]


async def revoke(db: Executor, prefix: str) -> ApiKey:
    record = await db.fetchrow(query("api_key_delete"), check_prefix(prefix))
    if record is None:
        raise ApiKeyError(f"no API key has the prefix {prefix!r}")
    return ApiKey.from_record(record)


async def stored_hash(db: Executor, prefix: str) -> str | None:
    return await db.fetchval(query("api_key_hash"), prefix)


async def touch(db: Executor, prefix: str) -> None:
    """Record a use (the database writes at most once a minute per key)."""
    await db.execute(query("api_key_touch"), prefix)
