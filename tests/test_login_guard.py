"""Login rate limits: unit rules with a fake clock, then bursts against a real KoSync server.

The server tests count scrypt runs (``KeyVerifier.hashes``) rather than timing them: a refused
guess must cost no hash, and an unknown name must cost exactly what a known one does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from shelver.data.login_guard import LoginGuard, LoginRefused
from shelver.data.passwords import KeyVerifier, hash_secret
from tests.kosync_support import insert_login

# Tests that count refusals, not time them, answer a refusal after a short pause.
QUICK_REFUSAL = 0.05


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def counting_verify(calls: list[str], right: str):
    def make(key: str):
        async def verify() -> bool:
            calls.append(key)
            await asyncio.sleep(0)
            return key == right

        return verify

    return make


def guarded(per_address: int, per_user: int):
    """A guard on a fake clock with a one-minute window, and a verify that records its calls."""
    clock = FakeClock()
    guard = LoginGuard(
        window=60,
        max_failures_per_address=per_address,
        max_failures_per_user=per_user,
        clock=clock,
    )
    calls: list[str] = []
    return clock, guard, calls, counting_verify(calls, "right")


async def test_an_address_is_locked_after_its_failures_and_unlocks_by_itself():
    clock, guard, calls, verify = guarded(per_address=3, per_user=100)
    for n in range(3):
        assert await guard.check("10.0.0.9", f"user{n}", verify("wrong")) is False
    with pytest.raises(LoginRefused) as refused:
        await guard.check("10.0.0.9", "user9", verify("right"))
    assert len(calls) == 3  # refused without checking
    assert 1 <= refused.value.retry_after <= 60
    # another address is not concerned
    assert await guard.check("10.0.0.10", "user0", verify("right")) is True
    clock.now += 61
    assert await guard.check("10.0.0.9", "user9", verify("right")) is True


async def test_a_name_is_locked_for_strangers_but_not_for_its_known_devices():
    clock, guard, calls, verify = guarded(per_address=100, per_user=5)
    assert await guard.check("192.168.1.20", "anna", verify("right")) is True  # her Kobo
    for n in range(5):  # a stranger rotating addresses
        assert await guard.check(f"10.9.0.{n}", "anna", verify(f"guess{n}")) is False
    with pytest.raises(LoginRefused):
        await guard.check("10.9.0.99", "anna", verify("right"))
    calls.clear()
    assert await guard.check("192.168.1.20", "anna", verify("right")) is True
    assert calls == ["right"]
    clock.now += 61
    assert await guard.check("10.9.0.99", "anna", verify("right")) is True


async def test_a_concurrent_burst_is_held_to_the_limit():
    guard = LoginGuard(window=60, max_failures_per_address=4, max_failures_per_user=100)
    calls: list[str] = []
    verify = counting_verify(calls, "right")
    results = await asyncio.gather(
        *(guard.check("10.0.0.1", "bob", verify(f"g{n}")) for n in range(50)),
        return_exceptions=True,
    )
    assert len(calls) == 4
    assert sum(isinstance(r, LoginRefused) for r in results) == 46


async def test_successes_are_refunded_so_a_busy_device_is_never_locked():
    guard = LoginGuard(window=60, max_failures_per_address=3, max_failures_per_user=3)
    calls: list[str] = []
    verify = counting_verify(calls, "right")
    for _ in range(100):
        assert await guard.check("10.0.0.2", "carl", verify("right")) is True


async def test_one_log_line_per_lock_window(caplog: pytest.LogCaptureFixture):
    clock = FakeClock()
    guard = LoginGuard(window=60, max_failures_per_address=3, max_failures_per_user=3, clock=clock)
    verify = counting_verify([], "right")
    caplog.set_level(logging.WARNING, logger="shelver.login_guard")
    for _ in range(2):
        for n in range(40):
            with contextlib.suppress(LoginRefused):
                await guard.check("10.0.0.3", "dora", verify(f"g{n}"))
        clock.now += 61
    lines = [r for r in caplog.records if r.name == "shelver.login_guard"]
    # per round: one line for the address, one for the name
    assert len(lines) == 4


def test_registrations_are_limited_per_address_and_overall():
    clock = FakeClock()
    guard = LoginGuard(
        registration_window=3600,
        max_registrations_per_address=2,
        max_registrations=3,
        clock=clock,
    )
    guard.admit_registration("10.0.0.1")
    guard.admit_registration("10.0.0.1")
    with pytest.raises(LoginRefused):
        guard.admit_registration("10.0.0.1")
    guard.admit_registration("10.0.0.2")
    with pytest.raises(LoginRefused):
        guard.admit_registration("10.0.0.3")
    clock.now += 3601
    guard.admit_registration("10.0.0.3")


async def test_unknown_names_cost_one_hash_like_known_ones():
    stored = hash_secret("k")

    async def lookup(name: str) -> str | None:
        return stored if name == "known" else None

    verifier = KeyVerifier(lookup)
    assert await verifier.verify("known", "wrong") is False
    assert verifier.hashes == 1
    assert await verifier.verify("nobody", "wrong") is False
    assert verifier.hashes == 2
    # the dummy hash can never be passed, whatever key is sent
    assert await verifier.verify("nobody", "k") is False
    # repeats are answered from memory in both cases
    assert await verifier.verify("known", "wrong") is False
    assert await verifier.verify("nobody", "wrong") is False
    assert verifier.hashes == 3


# --- over real HTTP -----------------------------------------------------------------------


@pytest.fixture
async def kosync_app(database_dsn: str) -> AsyncIterator[tuple[str, KeyVerifier, LoginGuard]]:
    """An in-process KoSync server on a real socket, with its verifier and guard exposed."""
    from aiohttp.test_utils import TestServer

    from shelver.app.server import create_app
    from shelver.data import kosync
    from shelver.data.kosync import ProgressWriter

    pool = await asyncpg.create_pool(database_dsn, min_size=1, max_size=4)
    await insert_login(pool, "reader", "good-key")
    writer = ProgressWriter(pool)
    writer.start()
    verifier = KeyVerifier(lambda name: kosync.user_hash(pool, name))
    guard = LoginGuard(refusal_delay=QUICK_REFUSAL)
    server = TestServer(create_app(pool, writer, verifier=verifier, guard=guard))
    await server.start_server()
    try:
        yield str(server.make_url("")), verifier, guard
    finally:
        await server.close()
        await writer.close()
        await pool.close()


async def test_a_burst_of_wrong_keys_costs_a_few_hashes_and_gets_429(kosync_app):
    base, verifier, _ = kosync_app
    async with httpx.AsyncClient(timeout=30) as http:
        # the device logs in once (it becomes a known device of 127.0.0.1 for "reader")
        ok = await http.get(
            f"{base}/users/auth", headers={"x-auth-user": "reader", "x-auth-key": "good-key"}
        )
        assert ok.status_code == 200
        hashes_before = verifier.hashes

        async def guess(n: int) -> int:
            response = await http.get(
                f"{base}/users/auth", headers={"x-auth-user": "reader", "x-auth-key": f"bad{n}"}
            )
            return response.status_code

        statuses = await asyncio.gather(*(guess(n) for n in range(200)))
        assert statuses.count(401) <= 10
        assert statuses.count(429) >= 190
        assert verifier.hashes - hashes_before <= 10
        refused = await http.get(
            f"{base}/users/auth", headers={"x-auth-user": "reader", "x-auth-key": "bad"}
        )
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1
        assert refused.json()["code"] == 2001


async def test_a_client_guessing_as_fast_as_it_can_is_slowed_to_one_answer_per_delay(
    database_dsn: str,
):
    """Refusals wait ``refusal_delay`` before they are answered: a locked client on four
    connections, sending as fast as it can, gets a handful of answers a second, not hundreds
    (an upper bound on what it gets: a slow machine only lowers the count)."""
    from aiohttp.test_utils import TestServer

    from shelver.app.server import create_app
    from shelver.data import kosync
    from shelver.data.kosync import ProgressWriter

    pool = await asyncpg.create_pool(database_dsn, min_size=1, max_size=4)
    await insert_login(pool, "reader", "good-key")
    writer = ProgressWriter(pool)
    writer.start()
    verifier = KeyVerifier(lambda name: kosync.user_hash(pool, name))
    guard = LoginGuard(max_failures_per_address=2, refusal_delay=0.25)
    server = TestServer(create_app(pool, writer, verifier=verifier, guard=guard))
    await server.start_server()
    statuses: list[int] = []
    try:
        url = str(server.make_url("/users/auth"))
        limits = httpx.Limits(max_connections=4)
        async with httpx.AsyncClient(timeout=30, limits=limits) as http:
            deadline = asyncio.get_running_loop().time() + 0.75

            async def guess(worker: int) -> None:
                n = 0
                while asyncio.get_running_loop().time() < deadline:
                    n += 1
                    headers = {"x-auth-user": "reader", "x-auth-key": f"bad-{worker}-{n}"}
                    statuses.append((await http.get(url, headers=headers)).status_code)

            await asyncio.gather(*(guess(w) for w in range(4)))
    finally:
        await server.close()
        await writer.close()
        await pool.close()
    assert statuses.count(401) == 2 and verifier.hashes == 2
    # 0.75 s, four connections, one answer per 0.25 s each (plus the one in flight at the end)
    assert 0 < statuses.count(429) <= 4 * (0.75 / 0.25 + 1)


async def test_unknown_and_known_names_cost_the_same_over_http(kosync_app):
    base, verifier, _ = kosync_app
    async with httpx.AsyncClient(timeout=30) as http:
        before = verifier.hashes
        for name in ("reader", "stranger"):
            response = await http.get(
                f"{base}/users/auth", headers={"x-auth-user": name, "x-auth-key": "nope"}
            )
            assert response.status_code == 401
        assert verifier.hashes - before == 2


async def test_basic_auth_routes_share_the_guard(database_dsn: str):
    """OPDS and WebDAV authenticate with app.http_auth.require_basic: the same limits apply."""
    import base64

    from aiohttp import web
    from aiohttp.test_utils import TestServer

    from shelver.app.http_auth import require_basic
    from shelver.app.server import create_app
    from shelver.data.kosync import ProgressWriter

    pool = await asyncpg.create_pool(database_dsn, min_size=1, max_size=4)
    writer = ProgressWriter(pool)
    writer.start()
    guard = LoginGuard(max_failures_per_address=5, refusal_delay=QUICK_REFUSAL)
    app = create_app(pool, writer, guard=guard)

    async def probe(request: web.Request) -> web.Response:
        principal = await require_basic(request)
        return web.Response(text=principal.name)

    app.router.add_get("/opds/probe", probe)
    server = TestServer(app)
    await server.start_server()

    def basic(name: str, password: str) -> dict[str, str]:
        token = base64.b64encode(f"{name}:{password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    try:
        url = str(server.make_url("/opds/probe"))
        async with httpx.AsyncClient(timeout=30) as http:
            statuses = await asyncio.gather(
                *(http.get(url, headers=basic("anyone", f"pw{n}")) for n in range(40))
            )
            codes = [response.status_code for response in statuses]
            assert codes.count(401) == 5 and codes.count(429) == 35
            refused = next(r for r in statuses if r.status_code == 429)
            assert int(refused.headers["Retry-After"]) >= 1
            assert guard.refused == 35
    finally:
        await server.close()
        await writer.close()
        await pool.close()


@pytest.mark.parametrize(
    ("value", "logged"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("bench-device-07", "bench-device-07"),
        ('say "hi"', 'say \\"hi\\"'),
        ("back\\slash", "back\\\\slash"),
        ("esc\x1b[2J", "esc\\x1b[2J"),
        ("line\nbreak", "line\\nbreak"),
        ("Zoë", "Zo\\xeb"),
        ("x" * 201, "x" * 200 + "\\u2026"),
    ],
)
def test_log_values_are_escaped_whichever_path_they_take(value: str, logged: str):
    """Plain ASCII is written as it is (the usual case, kept cheap); anything else escaped."""
    from shelver.data.login_guard import escape_for_log

    assert escape_for_log(value) == logged


def test_the_server_log_formatter_writes_the_standard_line():
    """The serve log's formatter caches the date per second: lines of different seconds and
    of the same second read exactly as logging's own formatter writes them."""
    from shelver.app.cli.commands_serve import _LineFormatter

    ours, standard = _LineFormatter(), logging.Formatter("%(asctime)s %(name)s %(message)s")
    for created in (1_800_000_000.25, 1_800_000_000.75, 1_800_000_001.5, 1_700_000_000.0):
        record = logging.LogRecord("shelver.serve", logging.INFO, "", 0, "a %s", ("b",), None)
        record.created, record.msecs = created, (created % 1) * 1000
        assert ours.format(record) == standard.format(record)
