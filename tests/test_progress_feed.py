"""The live progress feed of the data layer: whole positions in the notices, bursts taken
together, and a dropped connection reported and re-opened with a catch-up flag."""

from __future__ import annotations

import asyncio
import contextlib
from decimal import Decimal

from shelver.data import reading
from shelver.data.progress_feed import ProgressBatch, progress_feed
from tests.test_reading import make_book, put

TIMEOUT = 10


async def next_batch(feed) -> ProgressBatch:
    return await asyncio.wait_for(anext(feed), TIMEOUT)


async def test_a_notice_carries_the_position_a_screen_shows(database):
    pool = database.pool
    book = await make_book(pool, "Carried", content_hash="c" * 32, name="carried.epub")
    async with contextlib.aclosing(progress_feed(pool)) as feed:
        assert await next_batch(feed) == ProgressBatch()  # listening
        await put(pool, "c" * 32, "kobo", 0.42, progress="/body/p[7]")
        (notice,) = (await next_batch(feed)).notices
    assert notice.complete
    [stored] = await reading.current_positions(pool, documents=["c" * 32])
    linked_like = stored  # another position of the same document lends its book
    position = notice.position(linked_like, stored.updated_at)
    # Everything the row shows is what a fresh read returns.
    assert position == stored
    assert (position.progress, position.percentage, position.book_id) == (
        "/body/p[7]",
        Decimal("0.42"),
        book.id,
    )


async def test_a_notice_names_the_login_that_wrote_the_position(database):
    pool = database.pool
    async with contextlib.aclosing(progress_feed(pool)) as feed:
        await next_batch(feed)
        await put(pool, "1" * 32, "kobo", 0.1, login="alice")
        (first,) = (await next_batch(feed)).notices
        await put(pool, "1" * 32, "kobo", 0.2, login="bob")  # same device name, another login
        (second,) = (await next_batch(feed)).notices
        await put(pool, "1" * 32, "kobo", 0.3, login="alice")
        (third,) = (await next_batch(feed)).notices
    assert [(n.login, n.device, n.percentage) for n in (first, second, third)] == [
        ("alice", "kobo", 0.1),
        ("bob", "kobo (bob)", 0.2),
        ("alice", "kobo", 0.3),
    ]
    rows = await reading.current_positions(pool, documents=["1" * 32])
    assert {(r.login, r.device) for r in rows} == {("alice", "kobo"), ("bob", "kobo (bob)")}
    assert all(n.complete for n in (first, second, third))


async def test_a_burst_comes_in_few_batches(database):
    pool = database.pool
    async with contextlib.aclosing(progress_feed(pool, coalesce=0.3)) as feed:
        await next_batch(feed)
        for step in range(30):
            await put(pool, "b" * 32, "kobo", step / 100)
        batches = 0
        seen = 0
        while seen < 30:
            batch = await next_batch(feed)
            batches += 1
            seen += len(batch.notices)
    assert seen == 30
    assert batches < 30


async def test_a_dropped_connection_is_reported_and_reopened(database):
    pool = database.pool
    async with contextlib.aclosing(progress_feed(pool, first_pause=0.05)) as feed:
        assert (await next_batch(feed)).live
        ended = await pool.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND query ILIKE 'LISTEN%'"
        )
        assert ended == 1
        assert await next_batch(feed) == ProgressBatch(live=False)
        assert await next_batch(feed) == ProgressBatch(missed=True)  # back: re-read
        await put(pool, "r" * 32, "kobo", 0.5)
        (notice,) = (await next_batch(feed)).notices
        assert (notice.document, notice.percentage) == ("r" * 32, 0.5)


async def test_closing_the_feed_lets_go_of_its_connection(database):
    pool = database.pool
    feed = progress_feed(pool)
    await next_batch(feed)
    assert pool.get_size() - pool.get_idle_size() == 1
    await feed.aclose()
    assert pool.get_size() - pool.get_idle_size() == 0


def test_a_cut_value_makes_a_notice_incomplete():
    long = "x" * reading.NOTICE_TEXT_LIMIT
    notice = reading.ProgressNotice(
        kind="progress",
        document=long,
        device="kobo",
        progress="p",
        percentage=0.1,
        updated_at="2026-01-01T00:00:00+00:00",
    )
    assert not notice.complete
    assert notice.model_copy(update={"document": "d"}).complete
    assert not reading.ProgressNotice(kind="link", document="d").complete
