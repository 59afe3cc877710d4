"""Logins that share reading positions: one person, several KoSync logins (a phone and an
e-reader set up apart) who expects each device to pick up where another left off.

A sharing group has a *reader* (a login) and members that share with it
(``kosync_shared_positions``, migration 0025). Each login still writes under its own name, so
undoing a share loses nothing; reading (KoSync GET, the OPDS "reading now" feed, the screens'
filter by login) takes the newest position among the group (SQL ``kosync_login_group``).
"""

from __future__ import annotations

from shelver.data.books import Executor
from shelver.data.credentials import CredentialError
from shelver.data.models import Row
from shelver.data.queries import query
from shelver.data.reading import owner_logins

SERVICE = "kosync"


class SharedLogin(Row):
    """A login that shares the positions of ``reader`` (and of everyone sharing with it)."""

    login: str
    reader: str


async def group_of(db: Executor, login: str) -> list[str]:
    """The logins whose positions ``login`` sees: itself and those it shares with."""
    return list(await db.fetchval(query("sharing_group"), login) or [login])


async def logins_seen_by(db: Executor, name: str | None) -> list[str] | None:
    """Whose positions a caller of another service (OPDS) sees: those of the KoSync login of
    the same name (and of the logins it shares with); for any other name, or an API key
    (``None``), the library owner's (:func:`~shelver.data.reading.owner_logins`)."""
    if name and await db.fetchval(query("credential_hash"), SERVICE, name) is not None:
        return await group_of(db, name)
    return await owner_logins(db)


async def shared_logins(db: Executor) -> list[SharedLogin]:
    """Every login that shares another's positions, by reader then login."""
    return [SharedLogin.from_record(r) for r in await db.fetch(query("sharing_list"))]


async def _require_login(db: Executor, name: str) -> None:
    if await db.fetchval(query("credential_hash"), SERVICE, name) is None:
        raise CredentialError(f"there is no kosync login {name!r}")


async def share(db: Executor, login: str, other: str) -> list[str]:
    """Let ``login`` share positions with ``other`` (and with whoever already shares with
    ``other``); returns the group as it is now. Both must be KoSync logins."""
    if login == other:
        raise CredentialError("a login cannot share positions with itself")
    await _require_login(db, login)
    await _require_login(db, other)
    await db.execute(query("sharing_join"), login, other)
    return await group_of(db, login)


async def unshare(db: Executor, login: str) -> bool:
    """``login`` sees only its own positions again; the others of its group stay together.
    False when it shared with no one."""
    await _require_login(db, login)
    return bool(await db.fetchval(query("sharing_leave"), login))
