"""Reading progress for the screens: linking, states, history, sessions, live notices."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from shelver.data import books, kosync, reading, reading_state
from shelver.data.kosync import ProgressUpdate
from shelver.data.models import BookFields, BookStatus
from shelver.data.reading import LinkMethod, ReadingState


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


async def put(
    db,
    document: str,
    device: str,
    percentage: float,
    progress: str = "1",
    *,
    login: str | None = None,
) -> None:
    """Write a position the way ``shelver serve`` does (``login``: the KoSync login that sent
    it; None for a position of no login)."""
    body = {"document": document, "device": device, "percentage": percentage, "progress": progress}
    update = ProgressUpdate(
        document, device, None, progress, percentage, 1, json.dumps(body), login=login
    )
    await kosync.write_batch(db, [update])


async def make_book(db, title: str, *, content_hash: str | None, name: str):
    book = await books.insert(
        db, BookFields(title=title, author="A. Writer"), status=BookStatus.ORGANIZED
    )
    await books.add_file(
        db,
        book.id,
        format="epub",
        original_name=name,
        file_size=10,
        checksum=uuid.uuid4().hex,
        content_hash=content_hash,
    )
    return book


async def test_unknown_document_is_unlinked_until_its_book_arrives(database):
    pool = database.pool
    await put(pool, "a" * 32, "kpw", 0.3)
    [position] = await reading.current_positions(pool)
    assert position.book_id is None and position.link_method is None
    assert [p.document for p in await reading.current_positions(pool, linked=False)] == ["a" * 32]
    book = await make_book(pool, "Arrives Later", content_hash="a" * 32, name="later.epub")
    [position] = await reading.current_positions(pool)
    assert (position.book_id, position.link_method, position.title) == (
        book.id,
        LinkMethod.CONTENT_HASH,
        "Arrives Later",
    )
    assert await reading.current_positions(pool, linked=False) == []


async def test_filename_digest_links_too(database):
    pool = database.pool
    book = await make_book(pool, "By Name", content_hash="f" * 32, name="Été à Paris.epub")
    await put(pool, md5("Été à Paris.epub"), "pb", 0.5)
    [position] = await reading.current_positions(pool)
    assert (position.book_id, position.link_method) == (book.id, LinkMethod.FILENAME)


async def test_link_by_hand_wins_and_can_be_undone(database):
    pool = database.pool
    hashed = await make_book(pool, "Hashed", content_hash="b" * 32, name="h.epub")
    other = await make_book(pool, "Other", content_hash=None, name="o.epub")
    await put(pool, "b" * 32, "kpw", 0.4)
    await put(pool, "c" * 32, "kpw", 0.1)
    await reading.link_document(pool, "c" * 32, other.id)
    link = await reading.document_link(pool, "c" * 32)
    assert link is not None and (link.book_id, link.link_method) == (other.id, LinkMethod.MANUAL)
    # a hand-made link overrides a digest match
    await reading.link_document(pool, "b" * 32, other.id)
    assert (await reading.document_link(pool, "b" * 32)).book_id == other.id
    assert {p.document for p in await reading.current_positions(pool, book_id=other.id)} == {
        "b" * 32,
        "c" * 32,
    }
    assert await reading.book_history(pool, hashed.id) == []
    assert await reading.unlink_document(pool, "b" * 32) is True
    assert await reading.unlink_document(pool, "b" * 32) is False
    assert (await reading.document_link(pool, "b" * 32)).book_id == hashed.id
    assert await reading.document_link(pool, "z" * 32) is None
    with pytest.raises(reading.UnknownBook):
        await reading.link_document(pool, "c" * 32, uuid.uuid4())


async def test_deleting_a_book_drops_its_hand_made_links(database):
    pool = database.pool
    book = await make_book(pool, "Gone", content_hash=None, name="g.epub")
    await put(pool, "d" * 32, "kpw", 0.2)
    await reading.link_document(pool, "d" * 32, book.id)
    await pool.execute("DELETE FROM books WHERE id = $1", book.id)
    [position] = await reading.current_positions(pool)
    assert position.book_id is None  # the progress itself is kept


async def test_states_and_filters(database):
    pool = database.pool
    await put(pool, "r" * 32, "kpw", 0.5)
    await put(pool, "f" * 32, "kpw", 0.95)
    await put(pool, "p" * 32, "pb", 0.2)
    await pool.execute(
        "INSERT INTO reading_progress (document, device, progress, percentage, updated_at) "
        "VALUES ('old', 'pb', '3', 0.3, now() - interval '31 days')"
    )
    states = {p.document: p.state for p in await reading.current_positions(pool)}
    assert states == {
        "r" * 32: ReadingState.READING,
        "f" * 32: ReadingState.FINISHED,
        "p" * 32: ReadingState.READING,
        "old": ReadingState.PAUSED,
    }
    paused = await reading.current_positions(pool, state=ReadingState.PAUSED)
    assert [p.document for p in paused] == ["old"]
    assert {p.document for p in await reading.current_positions(pool, device="pb")} == {
        "p" * 32,
        "old",
    }
    assert [(d.device, d.documents) for d in await reading.devices(pool)] == [("kpw", 2), ("pb", 2)]
    now = datetime.now(UTC)
    assert reading.state_of(Decimal("0.95"), now, now) is ReadingState.FINISHED
    assert reading.state_of(0.5, now - timedelta(days=31), now) is ReadingState.PAUSED
    assert reading.state_of(0.5, now, now) is ReadingState.READING


async def test_history_of_a_document_and_of_a_book(database):
    pool = database.pool
    book = await make_book(pool, "Two Files", content_hash="e" * 32, name="two.epub")
    for pct in (0.1, 0.2):
        await put(pool, "e" * 32, "kpw", pct)
    await put(pool, md5("two.epub"), "pb", 0.3)
    await put(pool, "x" * 32, "pb", 0.9)
    assert [h.percentage for h in await reading.document_history(pool, "e" * 32)] == [
        Decimal("0.1000"),
        Decimal("0.2000"),
    ]
    history = await reading.book_history(pool, book.id)
    assert [(h.device, h.percentage) for h in history] == [
        ("kpw", Decimal("0.1000")),
        ("kpw", Decimal("0.2000")),
        ("pb", Decimal("0.3000")),
    ]
    [position] = await reading.book_positions(pool, book.id)
    assert (position.device, position.percentage) == ("pb", Decimal("0.3000"))


def test_sessions_split_on_long_gaps_per_device():
    start = datetime(2026, 1, 1, 20, 0, tzinfo=UTC)

    def entry(device: str, minutes: int, pct: str) -> reading.HistoryEntry:
        return reading.HistoryEntry(
            document="d",
            device=device,
            progress="p",
            percentage=Decimal(pct),
            timestamp=0,
            created_at=start + timedelta(minutes=minutes),
        )

    sessions = reading.sessions_from_history(
        [
            entry("kpw", 0, "0.10"),
            entry("kpw", 10, "0.12"),
            entry("pb", 15, "0.50"),
            entry("kpw", 25, "0.15"),
            entry("kpw", 300, "0.20"),
        ]
    )
    assert [(s.device, s.updates, s.start_percentage, s.end_percentage) for s in sessions] == [
        ("kpw", 3, Decimal("0.10"), Decimal("0.15")),
        # A session after the first starts where the book was left (KoSync sends one
        # position per sitting): "12→50 %", not "50→50 %".
        ("pb", 1, Decimal("0.12"), Decimal("0.50")),
        ("kpw", 1, Decimal("0.15"), Decimal("0.20")),
    ]
    assert sessions[0].duration == timedelta(minutes=25)


async def test_notifications_announce_positions_and_links(database):
    pool = database.pool
    book = await make_book(pool, "Live", content_hash=None, name="live.epub")
    async with reading.progress_notifications(pool) as notices:
        await put(pool, "l" * 32, "kpw", 0.25)
        notice = await asyncio.wait_for(notices.get(), timeout=10)
        assert (notice.kind, notice.document, notice.device, notice.percentage) == (
            "progress",
            "l" * 32,
            "kpw",
            0.25,
        )
        await reading.link_document(pool, "l" * 32, book.id)
        notice = await asyncio.wait_for(notices.get(), timeout=10)
        assert (notice.kind, notice.document) == ("link", "l" * 32)


def test_parse_notice_ignores_garbage():
    assert reading.parse_notice("not json") is None
    assert reading.parse_notice('{"kind": "progress"}') is None
    assert reading.parse_notice('{"kind": "link", "document": "x"}').document == "x"


async def test_sql_reads_the_same_rules_as_python(database):
    """One finished threshold and one pause: the SQL functions every query uses hold the
    values of data/reading_state.py."""
    finished_at, paused_after = await database.pool.fetchrow(
        "SELECT reading_finished_at(), reading_paused_after()"
    )
    assert (finished_at, paused_after) == (reading_state.FINISHED_AT, reading_state.PAUSED_AFTER)
    assert reading_state.book_state(Decimal("0.9499")) is ReadingState.READING
    assert reading_state.book_state(Decimal("0.95")) is ReadingState.FINISHED
    assert reading_state.book_state(0) is ReadingState.UNREAD


async def test_positions_and_history_per_login_with_sharing_and_the_owner(database):
    from shelver.data import position_sharing
    from tests.kosync_support import insert_login

    pool = database.pool
    assert await reading.owner_logins(pool) is None  # no KoSync login: every position counts
    for name in ("owner", "phone", "guest"):  # made in this order: "owner" is the first
        await insert_login(pool, name, "key")
    book = await make_book(pool, "Shared", content_hash="5" * 32, name="shared.epub")
    await put(pool, "5" * 32, "kobo", 0.20, login="owner")
    await put(pool, "5" * 32, "kobo", 0.60, login="guest")
    await put(pool, "5" * 32, "pixel", 0.40, login="phone")

    def seen(positions):
        return sorted((p.login, p.device, float(p.percentage)) for p in positions)

    assert seen(await reading.current_positions(pool, login="owner")) == [("owner", "kobo", 0.2)]
    assert seen(await reading.current_positions(pool, login="guest")) == [
        ("guest", "kobo (guest)", 0.6)
    ]
    assert [d.device for d in await reading.devices(pool, login="phone")] == ["pixel"]
    assert await reading.owner_logins(pool) == ["owner"]
    [newest] = await reading.book_positions(pool, book.id, logins=["owner"])
    assert float(newest.percentage) == 0.2  # not the guest's 0.6, written later

    await position_sharing.share(pool, "phone", "owner")
    assert await reading.owner_logins(pool) == ["owner", "phone"]
    assert seen(await reading.current_positions(pool, login="owner")) == [
        ("owner", "kobo", 0.2),
        ("phone", "pixel", 0.4),
    ]
    history = await reading.book_history(pool, book.id, login="phone")
    assert sorted(e.device for e in history) == ["kobo", "pixel"]
    summaries = {s.login: s.sees for s in await reading.logins(pool)}
    assert summaries == {
        "guest": ["guest"],
        "owner": ["owner", "phone"],
        "phone": ["owner", "phone"],
    }
    # OPDS: a namesake KoSync login sees its group; any other name, the owner's.
    assert await position_sharing.logins_seen_by(pool, "guest") == ["guest"]
    assert await position_sharing.logins_seen_by(pool, "opds-only") == ["owner", "phone"]
    assert await position_sharing.logins_seen_by(pool, None) == ["owner", "phone"]

    # The owner leaving the group hands it to the next login; nothing written is lost.
    assert await position_sharing.unshare(pool, "owner")
    assert await position_sharing.group_of(pool, "phone") == ["phone"]
    assert len(await reading.current_positions(pool)) == 3
