"""The KoSync data side without HTTP: validation, key hashing and caching, group commit."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import pytest

from shelver.data import kosync
from shelver.data.kosync import KoSyncError, ProgressReader, ProgressUpdate, ProgressWriter
from shelver.data.passwords import (
    KeyVerifier,
    SecretUnavailable,
    hash_secret,
    md5_key,
    seal_token,
    unseal_token,
    verify_secret,
)

BODY = {"document": "abc123", "progress": "12", "percentage": 0.5, "device": "kpw"}


def test_parse_progress_keeps_the_payload_and_stamps_server_time():
    update = kosync.parse_progress({**BODY, "extra": [1, 2]}, now=1700000000.7)
    assert update.timestamp == 1700000000
    assert update.device_id is None
    assert json.loads(update.raw_payload)["extra"] == [1, 2]


@pytest.mark.parametrize("percentage", [0, 1, 0.0, 1.0, 0.33333333])
def test_percentage_bounds_are_inclusive(percentage):
    assert kosync.parse_progress({**BODY, "percentage": percentage}).percentage == percentage


@pytest.mark.parametrize("percentage", [1.0001, -1e-9, "0.5", True, None, float("nan")])
def test_percentage_outside_0_1_or_not_a_number(percentage):
    with pytest.raises(KoSyncError) as caught:
        kosync.parse_progress({**BODY, "percentage": percentage})
    assert (caught.value.status, caught.value.code) == (403, 2003)


def test_decode_json_object_refuses_what_postgres_cannot_store():
    for raw in (b'{"a": "\\u0000"}', b'{"a": "\\udc00"}', b"[]", b"{", b'{"a": NaN}'):
        with pytest.raises(KoSyncError):
            kosync.decode_json_object(raw)
    assert kosync.decode_json_object('{"a": "é"}'.encode()) == {"a": "é"}


def test_hash_is_salted_slow_and_verifies():
    key = md5_key("password")
    assert key == "5f4dcc3b5aa765d61d8327deb882cf99"
    first, second = hash_secret(key), hash_secret(key)
    assert first != second and first.startswith("scrypt$16384$8$1$")
    assert verify_secret(key, first) and verify_secret(key, second)
    assert not verify_secret(key + "x", first)
    assert not verify_secret(key, "garbage") and not verify_secret(key, "scrypt$1$2$3$x$y")


async def test_verifier_checks_once_then_answers_from_memory():
    stored = hash_secret("k")
    lookups: list[str] = []

    async def lookup(name: str) -> str | None:
        lookups.append(name)
        return stored if name == "u" else None

    verifier = KeyVerifier(lookup, hash_ttl=3600)
    results = await asyncio.gather(*(verifier.verify("u", "k") for _ in range(20)))
    assert all(results)
    assert await verifier.verify("u", "wrong") is False
    assert await verifier.verify("nobody", "k") is False
    assert lookups == ["u", "nobody"]
    # a new stored hash (password changed) invalidates the remembered verdicts
    verifier.forget("u")
    stored = hash_secret("other")
    assert await verifier.verify("u", "k") is False
    assert await verifier.verify("u", "other") is True


def test_tokens_are_sealed_with_the_home_key(tmp_path):
    sealed = seal_token(tmp_path, "hc-token-123")
    assert "hc-token-123" not in sealed and sealed.startswith("fernet$")
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600
    assert unseal_token(tmp_path, sealed) == "hc-token-123"
    with pytest.raises(SecretUnavailable):
        unseal_token(tmp_path / "elsewhere", sealed)
    (tmp_path / "other").mkdir()
    seal_token(tmp_path / "other", "x")
    with pytest.raises(SecretUnavailable):
        unseal_token(tmp_path / "other", sealed)


def _update(document: str, device: str, progress: str, percentage: float = 0.5) -> ProgressUpdate:
    body = {"document": document, "device": device, "progress": progress, "percentage": percentage}
    return ProgressUpdate(document, device, None, progress, percentage, 1, json.dumps(body))


async def test_one_batch_may_hold_the_same_document_and_device_twice(database):
    await kosync.write_batch(
        database.pool,
        [_update("d1", "kpw", "1"), _update("d1", "kpw", "2"), _update("d1", "pb", "3")],
    )
    current = await database.pool.fetch(
        "SELECT device, progress FROM reading_progress ORDER BY device"
    )
    assert [tuple(r) for r in current] == [("kpw", "2"), ("pb", "3")]
    assert await database.pool.fetchval("SELECT count(*) FROM reading_progress_history") == 3


async def test_writer_groups_concurrent_updates_into_few_commits(database):
    writer = ProgressWriter(database.pool)
    writer.start()
    try:
        await asyncio.gather(
            *(writer.submit(_update(f"d{i % 3}", "kpw", str(i))) for i in range(50))
        )
    finally:
        await writer.close()
    assert writer.written == 50
    assert writer.batches < 50
    assert await database.pool.fetchval("SELECT count(*) FROM reading_progress_history") == 50


async def test_a_failing_update_fails_alone(database):
    writer = ProgressWriter(database.pool)
    writer.start()
    bad = ProgressUpdate("d", "kpw", None, "1", 0.5, 1, "not json")  # jsonb refuses it
    try:
        results = await asyncio.gather(
            writer.submit(_update("d", "a", "1")),
            writer.submit(bad),
            writer.submit(_update("d", "b", "2")),
            return_exceptions=True,
        )
    finally:
        await writer.close()
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], Exception)
    assert await database.pool.fetchval("SELECT count(*) FROM reading_progress_history") == 2


async def test_writer_refuses_work_after_close(database):
    writer = ProgressWriter(database.pool)
    writer.start()
    await writer.close()
    with pytest.raises(kosync.WriterClosed):
        await writer.submit(_update("d", "a", "1"))


async def test_writer_survives_its_connection_being_killed(database):
    writer = ProgressWriter(database.pool)
    writer.start()
    try:
        await writer.submit(_update("k", "a", "1"))
        await database.pool.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        outcomes = []
        for i in range(3):
            try:
                await asyncio.wait_for(writer.submit(_update("k", "a", str(i + 2))), timeout=60)
                outcomes.append("ok")
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                outcomes.append("failed")
        assert outcomes[-1] == "ok"
    finally:
        await writer.close()
    assert (
        await database.pool.fetchval("SELECT progress FROM reading_progress WHERE document = 'k'")
        == "4"
    )


async def test_writer_forces_synchronous_commit(database):
    """Even where the server's default is off (the test cluster's is), acknowledged = flushed."""
    async with database.pool.acquire() as conn:
        await conn.execute("SET synchronous_commit = off")  # as a careless default would be
    writer = ProgressWriter(database.pool)
    writer.start()
    try:
        await writer.submit(_update("s", "a", "1"))
        session = await writer._session()
        assert await session.fetchval("SHOW synchronous_commit") == "on"
    finally:
        await writer.close()


async def test_new_device_names_of_many_logins_at_once_never_collide(database):
    """Writers on separate connections (two servers on one database) bring the same new
    (document, device) for different logins at once, and some logins twice in one batch: each
    login gets a row of its own, named apart, and nothing fails."""
    from dataclasses import replace

    logins = [f"reader{n}" for n in range(8)]

    async def one_writer(batch_logins: list[str]) -> None:
        async with database.pool.acquire() as connection:
            updates = [
                replace(_update("same-doc", "Kobo", name), login=name) for name in batch_logins
            ]
            await kosync.write_batch(connection, updates)

    await asyncio.gather(
        one_writer(logins[:3]),
        one_writer(logins[3:6]),
        one_writer(logins[5:]),  # reader5 twice, in two batches
        one_writer([logins[0], logins[0]]),  # and reader0 twice in one
    )
    rows = await database.pool.fetch(
        "SELECT o.login, o.device AS sent, rp.device AS stored FROM reading_progress rp "
        "JOIN reading_progress_logins o ON o.progress_id = rp.id WHERE rp.document = 'same-doc'"
    )
    assert sorted(r["login"] for r in rows) == logins
    assert {r["sent"] for r in rows} == {"Kobo"}
    assert len({r["stored"] for r in rows}) == len(logins)
    for name in logins:
        answer = await kosync.latest_progress(database.pool, "same-doc", name)
        assert answer["device"] == "Kobo" and answer["progress"] == name


async def test_reader_groups_concurrent_gets_and_answers_each_its_own(database):
    """Fifty GETs at once from two logins: each gets its own login's newest position (or {}),
    in far fewer statements than GETs."""
    from dataclasses import replace

    await kosync.write_batch(
        database.pool,
        [
            replace(_update(f"d{n}", "Kobo", f"ann-{n}"), login="ann") for n in range(5)
        ]  # bob has written nothing
        + [replace(_update("d0", "Kindle", "bob-0"), login="bob")],
    )
    reader = ProgressReader(database.pool)
    asked = [(f"d{n % 6}", "ann" if n % 2 else "bob") for n in range(50)]
    try:
        answers = await asyncio.gather(*(reader.latest(doc, login) for doc, login in asked))
    finally:
        await reader.close()
    for (document, login), answer in zip(asked, answers, strict=True):
        if login == "ann" and document != "d5":
            assert (answer["document"], answer["progress"]) == (document, f"ann-{document[1]}")
            assert answer["device"] == "Kobo"
        elif login == "bob" and document == "d0":
            assert answer["progress"] == "bob-0"
        else:
            assert answer == {}
    assert reader.done == 50
    assert reader.batches < 50
    with pytest.raises(kosync.WriterClosed):
        await reader.latest("d0", "ann")


async def test_an_idle_reader_gives_its_connection_back(database):
    """The reader keeps a connection only while GETs keep coming, so the pool can close while
    the server still runs (and a small pool is not starved)."""
    reader = ProgressReader(database.pool)
    reader.linger = 0.05
    try:
        assert await reader.latest("nothing", "ann") == {}
        for _ in range(200):  # until released (bounded)
            if database.pool.get_idle_size() == database.pool.get_size():
                break
            await asyncio.sleep(0.05)
        assert database.pool.get_idle_size() == database.pool.get_size()
        assert await reader.latest("nothing", "ann") == {}  # and takes one again when asked
    finally:
        await reader.close()


async def test_a_known_device_writes_to_its_own_row_under_its_stored_name(database):
    """bob's "Kobo" is stored as "Kobo (bob)" beside alice's "Kobo": bob's next writes (the
    usual batch, only known rows) move that row, and alice's and a row of no login stay."""
    from dataclasses import replace

    def put(login: str | None, progress: str) -> ProgressUpdate:
        return replace(_update("doc", "Kobo", progress), login=login)

    await kosync.write_batch(database.pool, [put("alice", "a1")])
    await kosync.write_batch(database.pool, [put("bob", "b1")])
    await kosync.write_batch(database.pool, [put("bob", "b2"), put("alice", "a2")])
    await kosync.write_batch(database.pool, [put(None, "n1"), put("bob", "b3")])
    rows = await database.pool.fetch(
        "SELECT rp.device, o.login, rp.progress FROM reading_progress rp "
        "LEFT JOIN reading_progress_logins o ON o.progress_id = rp.id "
        "WHERE rp.document = 'doc' ORDER BY rp.device"
    )
    assert [tuple(r) for r in rows] == [
        ("Kobo", "alice", "a2"),
        ("Kobo (-)", None, "n1"),
        ("Kobo (bob)", "bob", "b3"),
    ]
