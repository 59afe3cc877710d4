"""Slow salted hashes for device logins, and a cache that makes re-checking a key cheap.

KoSync devices never send the password itself: they send ``md5(password)`` as hex (the "key").
The server stores a scrypt hash *of that key*, so a stolen database reveals neither.

Checking a key with scrypt takes tens of milliseconds on purpose. A KOReader device syncs on
every page turn, so :class:`KeyVerifier` remembers which (user, key) pairs were verified against
which stored hash; a repeat costs a SHA-256 and a dict lookup. The cache is keyed by the SHA-256
of the key, never the key itself, and an entry stops counting as soon as the stored hash
changes (a new password) or the login disappears.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import os
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from pathlib import Path

SCHEME = "scrypt"
# scrypt cost: 16 MiB of memory and ~50 ms per check; a repeat check hits the cache instead.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32


def md5_key(password: str) -> str:
    """The key a KOReader device sends for ``password`` (md5 hex of its UTF-8 bytes)."""
    return hashlib.md5(password.encode("utf-8")).hexdigest()


def _scrypt(secret: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        secret.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024, dklen=HASH_BYTES
    )


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def hash_secret(secret: str) -> str:
    """``scrypt$N$r$p$salt$hash`` for ``secret`` with a fresh random salt."""
    salt = os.urandom(SALT_BYTES)
    digest = _scrypt(secret, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"{SCHEME}${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_secret(secret: str, stored: str) -> bool:
    """Whether ``secret`` matches a hash made by :func:`hash_secret` (False for garbage)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != SCHEME:
            return False
        expected = _unb64(digest)
        actual = _scrypt(secret, _unb64(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


@functools.cache
def decoy_hash() -> str:
    """A hash no secret matches, checked in place of a missing login's: an unknown name costs
    the same scrypt as a wrong password, so timing does not tell which names exist."""
    return hash_secret(os.urandom(16).hex())


# Looks up the stored hash of a login; None when there is no such login.
HashLookup = Callable[[str], Awaitable[str | None]]


class KeyVerifier:
    """Checks (username, key) pairs against stored hashes, remembering the answers.

    ``lookup`` is asked for a user's stored hash at most once per ``hash_ttl`` seconds, so a
    password changed or removed with ``shelver credentials`` takes effect within that time.
    Concurrent first checks of the same pair share one scrypt run.

    An unknown name costs what a known one does (see :meth:`verify`). At most
    ``max_parallel_hashes`` scrypt runs happen at once, so a flood of guesses cannot take every
    core.
    """

    def __init__(
        self,
        lookup: HashLookup,
        *,
        hash_ttl: float = 10.0,
        max_entries: int = 4096,
        max_parallel_hashes: int = 2,
    ) -> None:
        self._lookup = lookup
        self._hashing = asyncio.Semaphore(max_parallel_hashes)
        self._decoy = decoy_hash()  # made once per process, before the first request
        self.hashes = 0
        """How many scrypt checks ran (tests and the benchmark count them)."""
        self._hash_ttl = hash_ttl
        self._max_entries = max_entries
        self._hashes: dict[str, tuple[str | None, float]] = {}
        # (username, sha256(key)) -> (stored hash it was checked against, verdict)
        self._verdicts: OrderedDict[tuple[str, bytes], tuple[str, bool]] = OrderedDict()
        self._pending: dict[tuple[str, bytes, str], asyncio.Future[bool]] = {}

    async def stored_hash(self, username: str) -> str | None:
        cached = self._hashes.get(username)
        now = time.monotonic()
        # "No such login" is remembered briefly only, so a login just added works at once.
        ttl = self._hash_ttl if cached is None or cached[0] is not None else 1.0
        if cached is not None and now - cached[1] < ttl:
            return cached[0]
        stored = await self._lookup(username)
        if len(self._hashes) >= self._max_entries:
            self._hashes.clear()
        self._hashes[username] = (stored, now)
        return stored

    def forget(self, username: str) -> None:
        """Drop what is known about ``username`` (after its password changed here)."""
        self._hashes.pop(username, None)

    async def verify(self, username: str, key: str) -> bool:
        """Whether ``key`` is right for ``username``. An unknown name is checked against a
        decoy hash (and its verdict remembered the same way), so it costs what a wrong key
        costs."""
        stored = await self.stored_hash(username)
        if stored is None:
            stored = self._decoy
        fingerprint = hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
        cache_key = (username, fingerprint)
        remembered = self._verdicts.get(cache_key)
        if remembered is not None and remembered[0] == stored:
            self._verdicts.move_to_end(cache_key)
            return remembered[1]
        pending_key = (username, fingerprint, stored)
        pending = self._pending.get(pending_key)
        if pending is None:
            pending = asyncio.get_running_loop().create_future()
            self._pending[pending_key] = pending
            try:
                async with self._hashing:
                    self.hashes += 1
                    verdict = await asyncio.to_thread(verify_secret, key, stored)
            except BaseException as exc:
                pending.set_exception(exc)
                pending.exception()  # mark retrieved: nobody else may be waiting
                raise
            finally:
                self._pending.pop(pending_key, None)
            pending.set_result(verdict)
            self._remember(cache_key, stored, verdict)
            return verdict
        return await asyncio.shield(pending)

    def _remember(self, cache_key: tuple[str, bytes], stored: str, verdict: bool) -> None:
        self._verdicts[cache_key] = (stored, verdict)
        self._verdicts.move_to_end(cache_key)
        while len(self._verdicts) > self._max_entries:
            self._verdicts.popitem(last=False)


# --- tokens that must be used again (Hardcover, Google Books) ------------------------------
#
# An API token cannot be hashed: shelver has to send it. It is sealed with Fernet (AES + HMAC)
# under a key kept in a private file of the home, so the database alone never reveals it.

SEALED_PREFIX = "fernet$"
KEY_FILE_NAME = "secret.key"


class SecretUnavailable(Exception):
    """A sealed token cannot be opened (key file missing or different); one readable line."""


def _key_file(config_dir: Path) -> Path:
    return config_dir / KEY_FILE_NAME


def _fernet(key: bytes):  # -> cryptography.fernet.Fernet
    # Imported on use: only token commands need it, and it costs start-up time.
    from cryptography.fernet import Fernet

    return Fernet(key)


def _load_key(config_dir: Path, *, create: bool) -> bytes:
    path = _key_file(config_dir)
    if path.exists():
        return path.read_bytes().strip()
    if not create:
        raise SecretUnavailable(f"{path} is missing, so stored tokens cannot be read")
    config_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    from cryptography.fernet import Fernet

    key = Fernet.generate_key()
    # O_EXCL: two processes creating the key at once must not overwrite each other's.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as handle:
        handle.write(key + b"\n")
    return key


def seal_token(config_dir: Path, token: str) -> str:
    """``token`` encrypted under the home's key (created on first use)."""
    fernet = _fernet(_load_key(config_dir, create=True))
    return SEALED_PREFIX + fernet.encrypt(token.encode("utf-8")).decode("ascii")


def unseal_token(config_dir: Path, sealed: str) -> str:
    """The token sealed by :func:`seal_token`; SecretUnavailable when it cannot be opened."""
    if not sealed.startswith(SEALED_PREFIX):
        raise SecretUnavailable("the stored value is not a sealed token")
    from cryptography.fernet import InvalidToken

    try:
        fernet = _fernet(_load_key(config_dir, create=False))
        return fernet.decrypt(sealed[len(SEALED_PREFIX) :].encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError):
        raise SecretUnavailable(
            f"the stored token was sealed with another key than {_key_file(config_dir)}"
        ) from None
