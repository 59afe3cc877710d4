"""Who is knocking: one check of a (name, password) pair for every route that uses HTTP Basic.

OPDS takes an ``opds`` login or an API key as the password; WebDAV takes a ``kosync`` login (its
password, which is turned into the MD5 key KoSync logins are stored under). Every route calls
:meth:`DeviceAuthenticator.check`, so the rules (which services, API keys, constant cost for
unknown names, ``last_used_at``) live here once; the HTTP side (``app/http_auth.py``) only parses
the header and answers 401.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from shelver.data import api_keys
from shelver.data.books import Executor
from shelver.data.credentials import LOGIN_SERVICES
from shelver.data.passwords import KeyVerifier, md5_key
from shelver.data.queries import query

# An API key's last_used_at is written at most this often by one process (the database's own
# condition keeps it to once a minute across processes as well).
TOUCH_EVERY_SECONDS = 60.0


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a login of ``service``, or an API key named by its prefix."""

    kind: Literal["login", "api_key"]
    name: str
    service: str | None = None

    @property
    def log_name(self) -> str:
        """How the access log names it (a key by its prefix only, never the secret)."""
        return self.name if self.kind == "login" else f"key:{self.name}"


class DeviceAuthenticator:
    """Checks Basic credentials against logins and API keys, remembering verified pairs.

    Logins are re-read at most every ``login_ttl`` seconds (a password changed elsewhere applies
    within that time); an API key's row is read on every request, so a revoked key is refused at
    once, while the slow hash is only computed on a key's first use.
    """

    def __init__(self, db: Executor, *, login_ttl: float = 10.0) -> None:
        self._db = db
        self._logins = {
            service: KeyVerifier(self._login_lookup(service), hash_ttl=login_ttl)
            for service in LOGIN_SERVICES
        }
        self._keys = KeyVerifier(lambda prefix: api_keys.stored_hash(db, prefix), hash_ttl=0.0)
        self._touched: dict[str, float] = {}

    def _login_lookup(self, service: str):
        async def lookup(name: str) -> str | None:
            return await self._db.fetchval(query("credential_hash"), service, name)

        return lookup

    def forget(self, name: str) -> None:
        """Drop what is remembered about a login (its password changed in this process)."""
        for verifier in self._logins.values():
            verifier.forget(name)

    async def check(
        self,
        name: str,
        password: str,
        *,
        services: Sequence[str] = ("opds",),
        allow_api_keys: bool = True,
    ) -> Principal | None:
        """The caller when ``password`` is right for login ``name`` of one of ``services``, or
        is a live API key (then ``name`` is whatever the client filled in); else None.

        Every failure costs one slow hash per service tried, known name or not."""
        if allow_api_keys:
            parts = api_keys.split_key(password)
            if parts is not None:
                prefix, secret = parts
                if not await self._keys.verify(prefix, secret):
                    return None
                await self._touch(prefix)
                return Principal("api_key", prefix)
        for service in services:
            secret = md5_key(password) if service == "kosync" else password
            if await self._logins[service].verify(name, secret):
                return Principal("login", name, service)
        return None

    async def _touch(self, prefix: str) -> None:
        now = time.monotonic()
        if now - self._touched.get(prefix, -TOUCH_EVERY_SECONDS) < TOUCH_EVERY_SECONDS:
            return
        self._touched[prefix] = now
        await api_keys.touch(self._db, prefix)
