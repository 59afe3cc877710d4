"""Logins and provider tokens in ``service_credentials`` (secrets never leave as plain text).

Device logins (``kosync``, ``opds``, and ``web`` for the TUI in a browser) are stored as slow
salted hashes. KOReader's KoSync client never sends the password itself but ``md5(password)``,
so a ``kosync`` row holds the hash of that key; an ``opds`` or ``web`` row (HTTP Basic sends the
password) holds the hash of the password. One person
may use one name and password for both: that is two rows, one per service.

Provider tokens (``hardcover``, ``google_books``) must be sent again, so they are sealed with the
home's private key (``data.passwords``) instead of hashed. The CLI and the Settings screen both
go through the functions here.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from shelver.data.books import Executor
from shelver.data.models import ServiceCredential
from shelver.data.passwords import hash_secret, md5_key, seal_token
from shelver.data.queries import query

LOGIN_SERVICES = ("kosync", "opds", "web")
"""Device logins: KoSync and OPDS for readers, ``web`` for ``shelver web`` in a browser."""
TOKEN_SERVICES = ("hardcover", "google_books")
ALL_SERVICES = LOGIN_SERVICES + TOKEN_SERVICES
MAX_NAME_CHARS = 128
MAX_SECRET_CHARS = 4096


class CredentialError(ValueError):
    """A login or token that cannot be stored as asked; the message is one readable line."""


def check_service(service: str) -> str:
    name = service.strip().lower().replace("-", "_")
    if name not in ALL_SERVICES:
        raise CredentialError(
            f"unknown service {service!r} (choose one of {', '.join(ALL_SERVICES)})"
        )
    return name


def check_name(name: str) -> str:
    """A login name KoSync and HTTP Basic can both carry: printable, no ':', 1-128 chars."""
    if not (0 < len(name) <= MAX_NAME_CHARS) or not name.isprintable() or ":" in name:
        raise CredentialError("the name must be 1-128 printable characters without ':'")
    if name != name.strip():
        raise CredentialError("the name must not start or end with a space")
    if not any(character.isalnum() for character in name):
        raise CredentialError("the name needs at least one letter or digit")
    return name


def check_secret(secret: str, what: str = "password") -> str:
    if not secret:
        raise CredentialError(f"the {what} is empty; nothing was stored")
    if len(secret) > MAX_SECRET_CHARS:
        raise CredentialError(f"the {what} is too long; nothing was stored")
    if "\x00" in secret or "\n" in secret or "\r" in secret:
        raise CredentialError(f"the {what} holds a line break or NUL; nothing was stored")
    return secret


def login_hash(service: str, password: str) -> str:
    """What a login row stores: for KoSync the hash of the MD5 key its devices send."""
    return hash_secret(md5_key(password) if service == "kosync" else password)


async def stored_secret(service: str, secret: str, config_dir: Path) -> str:
    """The value to store for ``secret`` (a slow hash or a sealed token), computed off the loop."""
    if service in LOGIN_SERVICES:
        return await asyncio.to_thread(login_hash, service, check_secret(secret))
    return seal_token(config_dir, check_secret(secret, "token"))


async def list_all(db: Executor) -> list[ServiceCredential]:
    return [ServiceCredential.from_record(r) for r in await db.fetch(query("list_credentials"))]


async def exists(db: Executor, service: str, name: str) -> bool:
    return await db.fetchval(query("credential_hash"), service, name) is not None


async def save(db: Executor, service: str, name: str, stored: str, *, replace: bool) -> bool:
    """Store an already hashed or sealed secret; True when the row was created.

    Without ``replace`` an existing row stays as it is (False). The one upsert of credentials:
    the CLI, the Settings screen and KoSync's registration all come through here."""
    if replace:
        record = await db.fetchrow(query("kosync_replace_credential"), service, name, stored)
        assert record is not None  # an upsert with RETURNING always returns its row
        return bool(record["created"])
    inserted = await db.fetchval(query("kosync_insert_credential"), service, name, stored)
    return inserted is not None


async def add(
    db: Executor,
    service: str,
    name: str,
    secret: str,
    config_dir: Path,
    *,
    replace: bool = False,
) -> bool:
    """Store a login or token; True when created, False when an existing one was replaced.

    Without ``replace`` an existing one is left alone and CredentialError says so."""
    service, name = check_service(service), check_name(name)
    if not replace and await exists(db, service, name):
        raise CredentialError(f"{service} login {name!r} already exists")
    stored = await stored_secret(service, secret, config_dir)
    created = await save(db, service, name, stored, replace=replace)
    if not (created or replace):
        raise CredentialError(f"{service} login {name!r} already exists")
    return created


async def change_secret(
    db: Executor, service: str, name: str, secret: str, config_dir: Path
) -> None:
    """A new password (or token) for an existing login; CredentialError when there is none."""
    service = check_service(service)
    if not await exists(db, service, name):
        raise CredentialError(f"there is no {service} login {name!r}")
    stored = await stored_secret(service, secret, config_dir)
    if await db.fetchval(query("credential_update_secret"), service, name, stored) is None:
        raise CredentialError(f"there is no {service} login {name!r}")


async def remove(db: Executor, service: str, name: str) -> None:
    service = check_service(service)
    if await db.fetchval(query("credential_delete"), service, name) is None:
        raise CredentialError(f"there is no {service} login {name!r}")
