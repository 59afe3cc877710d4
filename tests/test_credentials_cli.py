"""``shelver credentials`` and ``shelver apikey``: the command-line side of logins and keys."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg

from tests.test_cli import run_shelver


def shelver(home: Path, dsn: str, *args: str, stdin: str | None = None):
    return run_shelver("--home", str(home), *args, env={"SHELVER_DATABASE_URL": dsn}, stdin=stdin)


async def test_login_for_both_services_then_passwd_list_remove(tmp_path, database_dsn):
    home = tmp_path / "home"
    added = shelver(home, database_dsn, "credentials", "add", "kosync,opds", "kobo", stdin="pw1\n")
    assert added.returncode == 0, added.stderr
    assert "kosync and opds login 'kobo' created" in added.stdout
    again = shelver(home, database_dsn, "credentials", "add", "opds", "kobo", stdin="x\n")
    assert again.returncode == 1 and "already exists" in again.stderr
    listed = shelver(home, database_dsn, "credentials", "list", "--json")
    rows = json.loads(listed.stdout)
    assert [(r["service"], r["username"]) for r in rows] == [("kosync", "kobo"), ("opds", "kobo")]
    assert "pw1" not in listed.stdout

    conn = await asyncpg.connect(database_dsn)
    try:
        before = dict(await conn.fetch("SELECT service, password_hash FROM service_credentials"))
        changed = shelver(
            home, database_dsn, "credentials", "passwd", "opds", "kobo", stdin="pw2\n"
        )
        assert changed.returncode == 0, changed.stderr
        after = dict(await conn.fetch("SELECT service, password_hash FROM service_credentials"))
        assert after["opds"] != before["opds"] and after["kosync"] == before["kosync"]
        missing = shelver(home, database_dsn, "credentials", "passwd", "opds", "ghost", stdin="p\n")
        assert missing.returncode == 1 and "no opds login 'ghost'" in missing.stderr
        removed = shelver(home, database_dsn, "credentials", "remove", "kosync,opds", "kobo")
        assert removed.returncode == 0, removed.stderr
        assert await conn.fetchval("SELECT count(*) FROM service_credentials") == 0
    finally:
        await conn.close()
    bad = shelver(home, database_dsn, "credentials", "remove", "gopher", "x")
    assert bad.returncode == 2 and "unknown service" in bad.stderr


async def test_token_defaults_its_name_and_is_never_printed(tmp_path, database_dsn):
    home = tmp_path / "home"
    token = "hc_SECRET_token_123"
    added = shelver(home, database_dsn, "credentials", "add", "hardcover", stdin=token + "\n")
    assert added.returncode == 0, added.stderr
    listed = shelver(home, database_dsn, "credentials", "list")
    assert "hardcover" in listed.stdout and "default" in listed.stdout
    assert token not in listed.stdout + listed.stderr


async def test_apikey_create_list_revoke(tmp_path, database_dsn):
    home = tmp_path / "home"
    created = shelver(home, database_dsn, "apikey", "create", "kobo reader", "--json")
    assert created.returncode == 0, created.stderr
    document = json.loads(created.stdout)
    key, prefix = document["key"], document["prefix"]
    assert key.startswith(f"shv_{prefix}_")
    listed = shelver(home, database_dsn, "apikey", "list")
    assert (
        prefix in listed.stdout and "kobo reader" in listed.stdout and "never used" in listed.stdout
    )
    assert key not in listed.stdout and key.split("_", 2)[2] not in listed.stdout
    revoked = shelver(home, database_dsn, "apikey", "revoke", prefix)
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    twice = shelver(home, database_dsn, "apikey", "revoke", prefix)
    assert twice.returncode == 1 and "no API key" in twice.stderr
    garbage = shelver(home, database_dsn, "apikey", "revoke", "../../etc")
    assert garbage.returncode == 1 and "not a key prefix" in garbage.stderr
    assert "Traceback" not in garbage.stderr
