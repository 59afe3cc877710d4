"""The one async rate limiter of shelver's outgoing requests (metadata fetches, Hardcover sync).

Hardcover allows 60 requests a minute with bursts of 10. The allowance is kept as sliding
windows: never more than a window's limit in any interval of its length (60 in any minute and
10 in any 10 s by default). Each window is stretched by a small safety margin because the server
counts arrivals, which come a little after our grants and not always in the same spacing.

The allowance belongs to the endpoint, not to a job: :func:`shared_limiter` hands every user in
the process (a fetch from the TUI or CLI, ``shelver sync hardcover``, a sync from the Reading
progress screen or ``shelver serve``) the same limiter for the same URL, so whatever runs at
once, together they stay within it.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Window:
    """At most ``limit`` grants in any ``seconds``-long interval."""

    limit: int
    seconds: float


SAFETY_FACTOR = 1.03
SAFETY_SECONDS = 0.02


def minute_windows(per_minute: int, burst: int) -> list[Window]:
    """``per_minute`` in any minute, and no more than ``burst`` in its share of a minute."""
    per_minute = max(1, per_minute)
    burst = max(1, min(burst, per_minute))
    windows = [Window(per_minute, 60.0)]
    if burst < per_minute:
        windows.append(Window(burst, 60.0 * burst / per_minute))
    return windows


class RateLimiter:
    """Grants slots so that no window's limit is ever exceeded; waiters are served in order."""

    def __init__(
        self,
        windows: list[Window],
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        safety: bool = True,
    ) -> None:
        if not windows:
            raise ValueError("a rate limiter needs at least one window")
        self._safety = safety
        self.limits = list(windows)
        """The windows as asked for (``windows`` holds them with the safety margin)."""
        self.windows = self._stretched(windows)
        self._grants: deque[float] = deque()
        # One waiting line per event loop (an asyncio.Lock belongs to one loop); the grants are
        # the process's, whichever loop asked for them.
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self._clock = clock
        self._sleep = sleep
        self.granted = 0
        """How many slots were granted in total."""

    @classmethod
    def per_minute(cls, per_minute: int, burst: int, **kwargs: object) -> RateLimiter:
        """``per_minute`` in any minute, and no more than ``burst`` in its share of a minute."""
        return cls(minute_windows(per_minute, burst), **kwargs)  # type: ignore[arg-type]

    def _stretched(self, windows: list[Window]) -> list[Window]:
        if not self._safety:
            return list(windows)
        return [Window(w.limit, w.seconds * SAFETY_FACTOR + SAFETY_SECONDS) for w in windows]

    def reconfigure(self, windows: list[Window]) -> None:
        """New limits (the setting changed); the grants already made keep counting."""
        if windows != self.limits:
            self.limits = list(windows)
            self.windows = self._stretched(windows)

    def _lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        return lock

    def _wait_needed(self, now: float) -> float:
        longest = max(w.seconds for w in self.windows)
        while self._grants and self._grants[0] <= now - longest:
            self._grants.popleft()
        wait = 0.0
        for window in self.windows:
            if len(self._grants) < window.limit:
                continue
            # The grant that has to leave this window before another one fits.
            blocking = self._grants[-window.limit]
            wait = max(wait, blocking + window.seconds - now)
        return wait

    async def acquire(self) -> None:
        """Wait until one more request fits every window, and count it."""
        async with self._lock():
            now = self._clock()
            while (wait := self._wait_needed(now)) > 0:
                await self._sleep(wait)
                # Never earlier than planned, even on a clock that stands still (tests).
                now = max(self._clock(), now + wait)
            self._grants.append(now)
            self.granted += 1

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """``async with limiter.slot(): send()``."""
        await self.acquire()
        yield


_shared: dict[str, RateLimiter] = {}


def endpoint_key(url: str) -> str:
    """One key for the spellings of one endpoint (case of scheme and host, a trailing slash)."""
    scheme, separator, rest = url.strip().partition("://")
    host, slash, path = rest.partition("/")
    return f"{scheme.lower()}{separator}{host.lower()}{slash}{path}".rstrip("/")


def shared_limiter(
    url: str,
    per_minute: int,
    burst: int,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> RateLimiter:
    """The process's one limiter for the endpoint ``url``, made on first use.

    Later callers get the same object; should they ask for other limits (the setting changed),
    the limiter takes them on and its history keeps counting. ``clock`` and ``sleep`` only
    matter to the first caller (tests)."""
    key = endpoint_key(url)
    windows = minute_windows(per_minute, burst)
    limiter = _shared.get(key)
    if limiter is None:
        limiter = _shared[key] = RateLimiter(windows, clock=clock, sleep=sleep)
    else:
        limiter.reconfigure(windows)
    return limiter


def forget_shared_limiters() -> None:
    """Drop every shared limiter, so the next user starts with a fresh allowance (tests)."""
    _shared.clear()
