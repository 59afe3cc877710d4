"""Logins, API keys and the one Basic-auth check every HTTP route uses (data side)."""

from __future__ import annotations

import asyncio

import pytest

from shelver.app.http_auth import parse_authorization
from shelver.data import api_keys, credentials
from shelver.data.device_auth import DeviceAuthenticator


async def test_opds_login_and_wrong_password(database, home) -> None:
    pool = database.pool
    assert await credentials.add(pool, "opds", "kindle", "s3cret pass", home.config_dir)
    auth = DeviceAuthenticator(pool)
    principal = await auth.check("kindle", "s3cret pass")
    assert principal is not None and principal.service == "opds" and principal.name == "kindle"
    assert await auth.check("kindle", "wrong") is None
    assert await auth.check("nobody", "s3cret pass") is None
    # A kosync login is not an opds login unless the route asks for kosync.
    await credentials.add(pool, "kosync", "kobo", "pw", home.config_dir)
    assert await auth.check("kobo", "pw") is None
    webdav = await auth.check("kobo", "pw", services=("kosync",), allow_api_keys=False)
    assert webdav is not None and webdav.service == "kosync"


async def test_passwd_and_remove_take_effect(database, home) -> None:
    pool = database.pool
    await credentials.add(pool, "opds", "reader", "old", home.config_dir)
    auth = DeviceAuthenticator(pool, login_ttl=0.0)
    assert await auth.check("reader", "old")
    await credentials.change_secret(pool, "opds", "reader", "new", home.config_dir)
    assert await auth.check("reader", "old") is None
    assert await auth.check("reader", "new")
    await credentials.remove(pool, "opds", "reader")
    assert await auth.check("reader", "new") is None
    with pytest.raises(credentials.CredentialError, match="no opds login"):
        await credentials.remove(pool, "opds", "reader")
    with pytest.raises(credentials.CredentialError, match="unknown service"):
        await credentials.add(pool, "ftp", "x", "y", home.config_dir)
    with pytest.raises(credentials.CredentialError, match="without ':'"):
        await credentials.add(pool, "opds", "a:b", "y", home.config_dir)


async def test_api_key_create_use_touch_revoke(database) -> None:
    pool = database.pool
    key, row = await api_keys.create(pool, "  my  script ")
    assert row.label == "my script"
    assert key.startswith(f"shv_{row.key_prefix}_")
    stored = await pool.fetchval("SELECT key_hash FROM api_keys")
    assert key not in stored and key.split("_", 2)[2] not in stored
    auth = DeviceAuthenticator(pool)
    principal = await auth.check("anything", key)
    assert principal is not None and principal.kind == "api_key"
    assert principal.log_name == f"key:{row.key_prefix}"
    first_use = await pool.fetchval("SELECT last_used_at FROM api_keys")
    assert first_use is not None
    # Used again at once: not written again (at most once a minute).
    auth._touched.clear()
    assert await auth.check("x", key)
    assert await pool.fetchval("SELECT last_used_at FROM api_keys") == first_use
    # A key with the right prefix but another secret is refused.
    assert await auth.check("x", key[:-3] + "abc") is None
    revoked = await api_keys.revoke(pool, row.key_prefix)
    assert revoked.label == "my script"
    assert await auth.check("x", key) is None  # at once, no cache delay
    with pytest.raises(api_keys.ApiKeyError):
        await api_keys.revoke(pool, row.key_prefix)
    with pytest.raises(api_keys.ApiKeyError):
        await api_keys.revoke(pool, "'; DROP TABLE api_keys; --")


async def test_unknown_name_costs_a_hash(database, home) -> None:
    """An unknown name is checked against a decoy hash: the first refusal of each pair runs
    scrypt either way (the timing class is the same)."""
    pool = database.pool
    await credentials.add(pool, "opds", "known", "pw", home.config_dir)
    auth = DeviceAuthenticator(pool)
    calls: list[str] = []
    import shelver.data.passwords as passwords

    original = passwords.verify_secret

    def counting(secret: str, stored: str) -> bool:
        calls.append(stored)
        return original(secret, stored)

    passwords.verify_secret = counting
    try:
        assert await auth.check("known", "wrong") is None
        assert await auth.check("unknown", "wrong") is None
    finally:
        passwords.verify_secret = original
    assert len(calls) == 2


def test_parse_authorization() -> None:
    import base64

    def basic(text: str) -> str:
        return "Basic " + base64.b64encode(text.encode()).decode()

    assert parse_authorization(basic("ann:pa:ss")) == ("ann", "pa:ss")
    assert parse_authorization(basic("名前:пароль")) == ("名前", "пароль")
    assert parse_authorization("Bearer shv_abc") == ("", "shv_abc")
    assert parse_authorization(basic("nocolon")) is None
    assert parse_authorization("Basic !!!") is None
    assert parse_authorization("Digest x") is None
    assert parse_authorization(None) is None
    assert parse_authorization("Basic " + "A" * 10000) is None


async def test_concurrent_checks_share_one_hash(database, home) -> None:
    pool = database.pool
    await credentials.add(pool, "opds", "twin", "pw", home.config_dir)
    auth = DeviceAuthenticator(pool)
    results = await asyncio.gather(*(auth.check("twin", "pw") for _ in range(5)))
    assert all(results)
