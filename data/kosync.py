"""The KoSync protocol's data side: request validation, logins, and grouped writes and reads.

The HTTP layer (``app/server.py``) stays thin: it hands the decoded request to the functions
here, which either return what to store or raise :class:`KoSyncError` carrying the reference
server's status and error code (../shared/docs/protocols.md).

Durability at speed: every acknowledged PUT is committed (``synchronous_commit`` stays on).
Instead of one transaction per request, :class:`ProgressWriter` queues the PUTs that arrive
while a commit is in flight and writes them all in the next one (group commit), then answers
each request. Under load one fsync covers dozens of devices; alone, a PUT waits for just its own
commit. GETs are grouped the same way by :class:`ProgressReader` (one statement for all the
GETs waiting), both on connections of their own (``data.group_session``).

Progress is kept per login, as the reference server keys it (user + document): a login's
devices read and overwrite only that login's positions, or those of the logins it shares
positions with (``kosync_shared_positions``, see ``shelver credentials share``). The seed table
``reading_progress`` has no user column and one row per (document, device), so the owner of each
row is recorded beside it (``reading_progress_logins``, migration 0025), and a device name that
another login already uses for the same document is stored qualified: "Kobo (bob)".
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
from dataclasses import dataclass
from typing import Any, TypeGuard

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from shelver.data.books import Executor
from shelver.data.clean_text import clean_document, clean_line
from shelver.data.credentials import CredentialError, check_name
from shelver.data.credentials import save as save_credential  # one upsert for every login
from shelver.data.group_session import GroupSession, SessionClosed
from shelver.data.passwords import hash_secret
from shelver.data.queries import query

SERVICE = "kosync"

# Error codes of koreader-sync-server, with their HTTP statuses.
ERROR_INTERNAL = 2000
ERROR_UNAUTHORIZED = 2001
ERROR_USER_EXISTS = 2002
ERROR_INVALID_FIELDS = 2003
ERROR_DOCUMENT_FIELD = 2004
ERROR_REGISTRATION_DISABLED = 2005

ERRORS: dict[int, tuple[int, str]] = {
    ERROR_INTERNAL: (502, "Unknown server error."),
    ERROR_UNAUTHORIZED: (401, "Unauthorized"),
    ERROR_USER_EXISTS: (402, "Username is already registered."),
    ERROR_INVALID_FIELDS: (403, "Invalid request"),
    ERROR_DOCUMENT_FIELD: (403, "Field 'document' not provided."),
    ERROR_REGISTRATION_DISABLED: (402, "User registration is disabled."),
}

# Bounds that keep one request small; KOReader's values are far below them.
MAX_BODY_BYTES = 64 * 1024
MAX_DOCUMENT_CHARS = 128
MAX_USERNAME_CHARS = 128
MAX_KEY_CHARS = 256
MAX_DEVICE_CHARS = 256
MAX_PROGRESS_CHARS = 8192
MAX_JSON_DEPTH = 16
"""KOReader's bodies nest two levels (``metadata``, ``identifiers``); deeper is refused."""

# KOReader's document ids are MD5 hex; allow a little more but nothing that could confuse a
# URL path (the GET route takes the id from the path).
DOCUMENT_ID = re.compile(r"^[A-Za-z0-9._-]+$")


class KoSyncError(Exception):
    """A refusal with the reference server's error code; the status follows from the code."""

    def __init__(self, code: int, message: str | None = None) -> None:
        self.code = code
        self.status, default = ERRORS[code]
        self.message = message or default
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class ProgressUpdate:
    """One validated PUT, stamped with the server's time."""

    document: str
    device: str
    device_id: str | None
    progress: str
    percentage: float
    timestamp: int
    raw_payload: str
    """The request body as JSON text, kept in ``reading_progress.raw_payload``."""
    login: str | None = None
    """The KoSync login that sent it; None only for positions written by shelver itself
    (tests, the demo), which belong to no login."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _storable_string(value: str) -> bool:
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from \ud800-style escapes
        return False
    return True


def _storable(value: Any, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """Whether PostgreSQL text/jsonb can hold every string in ``value`` (no NUL, valid UTF-8)
    and it nests at most ``max_depth`` levels. Walked with a stack, never recursion."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if not _storable_string(item):
                return False
        elif isinstance(item, dict | list):
            if depth >= max_depth:
                return False
            if isinstance(item, dict):
                for key, child in item.items():
                    if not _storable_string(key):
                        return False
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)
    return True


# Made once: json.loads with an option builds a new decoder for every call.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def decode_json_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object, or KoSyncError 2003 (bad JSON, NaN, not an object, NULs)."""
    try:
        body = _DECODER.decode(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise KoSyncError(ERROR_INVALID_FIELDS) from None
    if not isinstance(body, dict) or not _storable(body):
        raise KoSyncError(ERROR_INVALID_FIELDS)
    return body


def _is_text(value: object, limit: int) -> TypeGuard[str]:
    return isinstance(value, str) and 0 < len(value) <= limit and value.isprintable()


def valid_username(value: object) -> TypeGuard[str]:
    """A name the reference server would accept as a key field (non-empty, no colon)."""
    return _is_text(value, MAX_USERNAME_CHARS) and ":" not in value


def valid_key(value: object) -> TypeGuard[str]:
    return _is_text(value, MAX_KEY_CHARS)


def valid_document(value: object) -> TypeGuard[str]:
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_DOCUMENT_CHARS
        and DOCUMENT_ID.match(value) is not None
    )


def parse_progress(
    body: dict[str, Any], *, login: str | None = None, now: float | None = None
) -> ProgressUpdate:
    """Validate a PUT body (already decoded) into a :class:`ProgressUpdate`.

    ``document`` missing or invalid: 2004. Any other required field missing, of the wrong type
    or out of range (``percentage`` must be a number in 0..1): 2003. ``device_id`` may be absent;
    extra fields (``metadata``, ``identifiers``) are kept in the raw payload and otherwise ignored.
    """
    document = body.get("document")
    if not valid_document(document):
        raise KoSyncError(ERROR_DOCUMENT_FIELD)
    percentage = body.get("percentage")
    progress = body.get("progress")
    device = body.get("device")
    device_id = body.get("device_id")
    if (
        isinstance(percentage, bool)
        or not isinstance(percentage, int | float)
        or not math.isfinite(percentage)
        or not 0 <= percentage <= 1
    ):
        raise KoSyncError(ERROR_INVALID_FIELDS)
    if not isinstance(progress, str) or not 0 < len(progress) <= MAX_PROGRESS_CHARS:
        raise KoSyncError(ERROR_INVALID_FIELDS)
    # A device's name and id are shown and stored: cleaned like every outside value.
    device = clean_line(device, MAX_DEVICE_CHARS) if isinstance(device, str) else None
    if device is None:
        raise KoSyncError(ERROR_INVALID_FIELDS)
    if device_id is not None and not isinstance(device_id, str):
        raise KoSyncError(ERROR_INVALID_FIELDS)
    device_id = clean_line(device_id, MAX_DEVICE_CHARS) if device_id else None
    return ProgressUpdate(
        document=document,
        device=device,
        device_id=device_id or None,
        progress=progress,
        percentage=float(percentage),
        timestamp=int(time.time() if now is None else now),
        raw_payload=json.dumps(clean_document(body), ensure_ascii=False),
        login=login,
    )


def parse_registration(body: dict[str, Any]) -> tuple[str, str]:
    """(username, key) of a ``POST /users/create`` body, or 2003."""
    username = body.get("username")
    key = body.get("password")
    if not valid_username(username) or not valid_key(key):
        raise KoSyncError(ERROR_INVALID_FIELDS)
    try:
        check_name(username)  # a new login obeys the rules of `shelver credentials add`
    except CredentialError:
        raise KoSyncError(ERROR_INVALID_FIELDS) from None
    return username, key


# --- logins -----------------------------------------------------------------------------


async def user_hash(db: Executor, username: str) -> str | None:
    """The stored hash of a KoSync login, or None."""
    return await db.fetchval(query("kosync_user_hash"), username)


async def create_user(db: Executor, username: str, key: str) -> bool:
    """Add a login whose devices send ``key``; False when the name is taken."""
    if await user_hash(db, username) is not None:
        return False  # cheap answer before paying for a hash
    hashed = await asyncio.to_thread(hash_secret, key)
    return await save_credential(db, SERVICE, username, hashed, replace=False)


# --- reading and writing positions -------------------------------------------------------


async def latest_progresses(db: Executor, asked: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The GET answer for each (document, login) of ``asked``, in order: the newest position of
    the document among the login's own devices and those of the logins it shares positions
    with, or ``{}`` when there is none. One statement for them all."""
    answers: list[dict[str, Any]] = [{} for _ in asked]
    records = await db.fetch(
        query("kosync_latest_progress"), [a[0] for a in asked], [a[1] for a in asked]
    )
    for record in records:
        answer = answers[record["position"] - 1]
        answer["document"] = record["document"]
        answer["percentage"] = float(record["percentage"])
        answer["progress"] = record["progress"]
        answer["device"] = record["device"]
        answer["timestamp"] = record["timestamp"]
        if record["device_id"] is not None:
            answer["device_id"] = record["device_id"]
    return answers


async def latest_progress(db: Executor, document: str, login: str) -> dict[str, Any]:
    """The GET answer for ``login`` and ``document`` (see :func:`latest_progresses`)."""
    return (await latest_progresses(db, [(document, login)]))[0]


# Serialises the choice of new device names across processes (only taken when a batch brings
# a (login, document, device) never seen before). "kosync" in ASCII.
NEW_DEVICE_LOCK_KEY = 0x6B6F73796E63


def qualified_device(device: str, login: str | None, taken: set[str]) -> str:
    """The name a login's device is stored under for one document: as sent when no other
    login's device has it, else "Kobo (bob)" (and "Kobo (bob) 2"... if even that is taken)."""
    if device not in taken:
        return device
    base = f"{device} ({login or '-'})"
    name, number = base, 1
    while name in taken:
        number += 1
        name = f"{base} {number}"
    return name


async def _stored_devices(
    db: Executor, keys: list[tuple[str | None, str, str]]
) -> tuple[dict[tuple[str | None, str, str], str], dict[str, set[str]]]:
    """For each (login, document, device) key: the name its row is stored under, when it has
    one; and per document, every stored device name (taken by whichever login)."""
    records = await db.fetch(query("kosync_stored_devices"), sorted({k[1] for k in keys}))
    mine: dict[tuple[str | None, str, str], str] = {}
    taken: dict[str, set[str]] = {}
    for record in records:
        taken.setdefault(record["document"], set()).add(record["stored_device"])
        mine[(record["login"], record["document"], record["device"])] = record["stored_device"]
    return mine, taken


async def _known_devices(
    db: Executor, keys: list[tuple[str | None, str, str]]
) -> dict[tuple[str | None, str, str], str]:
    """The stored name of each (login, document, device) key whose login already has that row
    (only those rows are read: not every device of the documents)."""
    named = [key for key in keys if key[0] is not None]  # a row of no login: the full look
    records = await db.fetch(
        query("kosync_known_devices"),
        [k[0] for k in named],
        [k[1] for k in named],
        [k[2] for k in named],
    )
    return {
        (record["login"], record["document"], record["device"]): record["stored_device"]
        for record in records
    }


def _write_args(updates: list[ProgressUpdate], stored: list[str]) -> list[Any]:
    return [
        [u.document for u in updates],
        stored,
        [u.device_id for u in updates],
        [u.progress for u in updates],
        [u.percentage for u in updates],
        [u.timestamp for u in updates],
        [u.raw_payload for u in updates],
        [u.login for u in updates],
        [u.device for u in updates],
    ]


async def write_batch(db: Executor, updates: list[ProgressUpdate]) -> None:
    """Store ``updates`` (current positions, history and their logins), all or nothing.

    The usual batch only moves rows its logins already have: one look-up of just those rows,
    then one statement (atomic by itself). A batch with a (login, document, device) never seen
    before picks the new rows' names in a transaction, under a lock, on a fresh look of every
    device of its documents (see :func:`qualified_device`).
    """
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as connection:
            await write_batch(connection, updates)
        return
    keys = [(u.login, u.document, u.device) for u in updates]
    known = await _known_devices(db, keys)
    if all(key in known for key in keys):
        await db.execute(
            query("kosync_write_progress_batch"),
            *_write_args(updates, [known[key] for key in keys]),
        )
        return
    async with db.transaction():
        await db.execute(query("kosync_lock_new_devices"), NEW_DEVICE_LOCK_KEY)
        mine, taken = await _stored_devices(db, keys)
        for key in keys:
            if key not in mine:
                login, document, device = key
                names = taken.setdefault(document, set())
                mine[key] = qualified_device(device, login, names)
                names.add(mine[key])
        await db.execute(
            query("kosync_write_progress_batch"),
            *_write_args(updates, [mine[key] for key in keys]),
        )


WriterClosed = SessionClosed
"""The writer (or reader) is shutting down and takes no more requests."""


class ProgressWriter(GroupSession[ProgressUpdate, None]):
    """Group commit: PUTs queue up while a commit runs and go together into the next one.

    One writer task, so updates are committed in arrival order and the last write of a device
    wins. :meth:`submit` returns only after the update's transaction committed. Its connection
    waits for the WAL flush at every commit, whatever the server's default.
    """

    name = "kosync progress writer"

    @property
    def written(self) -> int:
        """How many updates were committed."""
        return self.done

    async def submit(self, update: ProgressUpdate) -> None:
        """Queue ``update`` and wait until it is durable; raises on a database failure."""
        await self._submit(update)

    async def _prepare(self, connection: PoolConnectionProxy) -> None:
        await connection.execute(query("kosync_durable_session"))

    async def _process(
        self, connection: PoolConnectionProxy, items: list[ProgressUpdate]
    ) -> list[None]:
        await write_batch(connection, items)
        return [None] * len(items)


class ProgressReader(GroupSession[tuple[str, str], dict[str, Any]]):
    """Group read: the GETs that arrive while a read runs go together into the next one, on a
    connection of its own (given back to the pool after a second without GETs). Started by the
    first GET."""

    name = "kosync progress reader"
    linger = 1.0

    async def latest(self, document: str, login: str) -> dict[str, Any]:
        """What :func:`latest_progress` answers for ``document`` and ``login``."""
        self.start()
        return await self._submit((document, login))

    async def _process(
        self, connection: PoolConnectionProxy, items: list[tuple[str, str]]
    ) -> list[dict[str, Any]]:
        return await latest_progresses(connection, items)
