"""Rate limits for logins and registrations, shared by every route that authenticates.

A wrong password is refused *before* it is hashed once an address or a username has failed too
often within a window; the lock lifts by itself when the window ends. The rules:

- **Per address**: ``max_failures_per_address`` failures in ``window`` seconds lock that
  address out of every login (whatever name it tries).
- **Per username**: ``max_failures_per_user`` failures lock the name, from any address, except
  from an address that logged in as that name successfully before (a "known device"): a
  stranger's failures elsewhere never keep the owner's own reader out.
- An attempt counts as a failure *while it is being checked*, and is refunded on success, so a
  burst of concurrent guesses cannot slip past the limit before the first one fails.
- Unknown and known names are treated alike (counting and locking), so the lock reveals nothing.
- One warning line when a lock starts (per address or name, once per window), never per request.
- A refusal is answered after ``refusal_delay`` (1 s), as mail servers delay their answers to
  failed logins: a client guessing as fast as it can, on the few connections an address may
  hold, is slowed to a few tries a second, which costs the server next to nothing.

Usage from a route (KoSync, OPDS, WebDAV, web)::

    try:
        ok = await guard.check(address, username, lambda: verify(username, secret))
    except LoginRefused as refused:
        await asyncio.sleep(refused.delay)
        ...  # answer 429 with Retry-After: refused.retry_after

The guard keeps everything in memory (bounded); it never stores a secret.
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger("shelver.login_guard")

Clock = Callable[[], float]

# Defaults: a KOReader device with the right key never fails; a person typing a password
# gets a handful of tries a minute.
WINDOW_SECONDS = 60.0
MAX_FAILURES_PER_ADDRESS = 10
MAX_FAILURES_PER_USER = 10
KNOWN_DEVICE_SECONDS = 30 * 24 * 3600.0
REGISTRATION_WINDOW_SECONDS = 3600.0
MAX_REGISTRATIONS_PER_ADDRESS = 5
MAX_REGISTRATIONS = 100
MAX_TRACKED = 10_000
"""Bound on the addresses and names remembered at once (oldest dropped first)."""
REFUSAL_DELAY_SECONDS = 1.0
"""How long a refusal waits before it is answered (see :class:`LoginGuard`)."""


class LoginRefused(Exception):
    """Too many failures: refused without checking the password. ``retry_after`` in seconds;
    ``delay``: how long the server waits before it answers (see :class:`LoginGuard`)."""

    def __init__(self, retry_after: float, reason: str, delay: float = 0.0) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        self.reason = reason
        self.delay = delay
        super().__init__(f"too many {reason}; try again in {self.retry_after} s")


@dataclass
class _Window:
    started: float
    count: int = 0
    logged: bool = False


class _Counter:
    """Fixed-window counts per key, bounded in size (least recently touched dropped)."""

    def __init__(self, limit: int, window: float, max_tracked: int) -> None:
        self.limit = limit
        self.window = window
        self._max_tracked = max_tracked
        self._windows: OrderedDict[str, _Window] = OrderedDict()

    def _current(self, key: str, now: float) -> _Window:
        entry = self._windows.get(key)
        if entry is None or now - entry.started >= self.window:
            entry = _Window(started=now)
            self._windows[key] = entry
        self._windows.move_to_end(key)
        while len(self._windows) > self._max_tracked:
            self._windows.popitem(last=False)
        return entry

    def locked_for(self, key: str, now: float) -> float:
        """Seconds until ``key`` may try again; 0 when it may now."""
        entry = self._windows.get(key)
        if entry is None or now - entry.started >= self.window or entry.count < self.limit:
            return 0.0
        return entry.started + self.window - now

    def add(self, key: str, now: float, amount: int = 1) -> _Window:
        entry = self._current(key, now)
        entry.count = max(0, entry.count + amount)
        return entry

    def refund(self, key: str, started: float) -> None:
        """Take back one count, if the window it was made in is still the current one."""
        entry = self._windows.get(key)
        if entry is not None and entry.started == started and entry.count > 0:
            entry.count -= 1

    def first_lock(self, key: str, now: float) -> bool:
        """True once per window, when ``key`` has just reached its limit (for one log line)."""
        entry = self._windows.get(key)
        if entry is None or entry.logged or entry.count < self.limit:
            return False
        entry.logged = True
        return True


class Attempt:
    """One admitted login attempt; counted as a failure until :meth:`succeeded` says otherwise."""

    def __init__(
        self, guard: LoginGuard, address: str, username: str, by_address: float, by_user: float
    ) -> None:
        self._guard = guard
        self._address = address
        self._username = username
        self._windows = (by_address, by_user)
        self._settled = False

    def succeeded(self) -> None:
        if not self._settled:
            self._settled = True
            self._guard._succeeded(self._address, self._username, self._windows)

    def failed(self) -> None:
        if not self._settled:
            self._settled = True
            self._guard._failed(self._address, self._username)

    def abandoned(self) -> None:
        """The check did not finish (server error, client gone): neither success nor failure."""
        if not self._settled:
            self._settled = True
            self._guard._refund(self._address, self._username, self._windows)


class LoginGuard:
    """Counts failed logins per address and per username; refuses before hashing when locked."""

    def __init__(
        self,
        *,
        window: float = WINDOW_SECONDS,
        max_failures_per_address: int = MAX_FAILURES_PER_ADDRESS,
        max_failures_per_user: int = MAX_FAILURES_PER_USER,
        known_device_seconds: float = KNOWN_DEVICE_SECONDS,
        registration_window: float = REGISTRATION_WINDOW_SECONDS,
        max_registrations_per_address: int = MAX_REGISTRATIONS_PER_ADDRESS,
        max_registrations: int = MAX_REGISTRATIONS,
        max_tracked: int = MAX_TRACKED,
        refusal_delay: float = REFUSAL_DELAY_SECONDS,
        clock: Clock = time.monotonic,
    ) -> None:
        self._clock = clock
        self.refusal_delay = refusal_delay
        """Seconds a refusal waits before it is answered: a client that keeps trying while
        locked gets at most one answer per delay per connection, so it cannot make the server
        (or the machine's cores) busy answering refusals as fast as it can send."""
        self._by_address = _Counter(max_failures_per_address, window, max_tracked)
        self._by_user = _Counter(max_failures_per_user, window, max_tracked)
        self._known_device_seconds = known_device_seconds
        self._max_tracked = max_tracked
        # (username, address) -> when that address last logged in as that name
        self._known: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._registrations_by_address = _Counter(
            max_registrations_per_address, registration_window, max_tracked
        )
        self._registrations = _Counter(max_registrations, registration_window, 1)
        self.refused = 0
        """How many attempts were refused without a check (for tests and the benchmark)."""

    # --- logins ----------------------------------------------------------------------

    def is_known_device(self, address: str, username: str) -> bool:
        seen = self._known.get((username, address))
        return seen is not None and self._clock() - seen < self._known_device_seconds

    def admit(self, address: str, username: str) -> Attempt:
        """Start an attempt, or raise :class:`LoginRefused` when the address or name is locked."""
        now = self._clock()
        wait = self._by_address.locked_for(address, now)
        if wait > 0:
            self.refused += 1
            raise LoginRefused(wait, "failed logins from this address", self.refusal_delay)
        if not self.is_known_device(address, username):
            wait = self._by_user.locked_for(username, now)
            if wait > 0:
                self.refused += 1
                raise LoginRefused(wait, "failed logins for this name", self.refusal_delay)
        by_address = self._by_address.add(address, now).started
        by_user = self._by_user.add(username, now).started
        return Attempt(self, address, username, by_address, by_user)

    async def check(
        self, address: str, username: str, verify: Callable[[], Awaitable[bool]]
    ) -> bool:
        """Run ``verify`` under the limits: its verdict, or :class:`LoginRefused` unchecked."""
        attempt = self.admit(address, username)
        try:
            ok = await verify()
        except BaseException:
            attempt.abandoned()
            raise
        if ok:
            attempt.succeeded()
        else:
            attempt.failed()
        return ok

    def _succeeded(self, address: str, username: str, windows: tuple[float, float]) -> None:
        self._refund(address, username, windows)
        key = (username, address)
        self._known[key] = self._clock()
        self._known.move_to_end(key)
        while len(self._known) > self._max_tracked:
            self._known.popitem(last=False)

    def _refund(self, address: str, username: str, windows: tuple[float, float]) -> None:
        self._by_address.refund(address, windows[0])
        self._by_user.refund(username, windows[1])

    def _failed(self, address: str, username: str) -> None:
        now = self._clock()
        if self._by_address.first_lock(address, now):
            log.warning(
                "too many failed logins from %s: refused for %.0f s",
                escape_for_log(address),
                self._by_address.window,
            )
        if self._by_user.first_lock(username, now):
            log.warning(
                "too many failed logins for the name %s: refused for %.0f s "
                "(its known devices still get in)",
                escape_for_log(username),
                self._by_user.window,
            )

    # --- registrations ---------------------------------------------------------------

    def admit_registration(self, address: str) -> None:
        """Count a registration attempt, or raise :class:`LoginRefused` when over the limit."""
        now = self._clock()
        wait = max(
            self._registrations_by_address.locked_for(address, now),
            self._registrations.locked_for("*", now),
        )
        if wait > 0:
            self.refused += 1
            raise LoginRefused(wait, "registrations", self.refusal_delay)
        self._registrations_by_address.add(address, now)
        self._registrations.add("*", now)
        if self._registrations_by_address.first_lock(address, now):
            log.warning("registration limit reached for %s", escape_for_log(address))
        if self._registrations.first_lock("*", now):
            log.warning("registration limit reached for this server")


def escape_for_log(value: str, limit: int = 200) -> str:
    """``value`` safe inside one log line: non-printable characters and quotes escaped."""
    text = value if len(value) <= limit else value[:limit] + "…"
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return text  # the usual case (an address, a method, a name): nothing to escape
    return text.encode("unicode_escape").decode("ascii").replace('"', '\\"')
