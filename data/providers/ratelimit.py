"""A shared async rate limiter: sliding windows over the times requests were let through.

Hardcover allows 60 requests a minute with bursts of 10. One limiter object is shared by every
concurrent fetch, so the allowance holds however many books are fetched at once. Each window is
stretched by a small safety margin because the server counts arrivals, which come a little after
our grants and not always in the same spacing.
"""

from __future__ import annotations

import asyncio
import time
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
        self.windows = [
            Window(w.limit, w.seconds * SAFETY_FACTOR + SAFETY_SECONDS if safety else w.seconds)
            for w in windows
        ]
        self._longest = max(w.seconds for w in self.windows)
        self._grants: deque[float] = deque()
        self._lock = asyncio.Lock()
        self._clock = clock
        self._sleep = sleep
        self.granted = 0
        """How many slots were granted in total."""

    @classmethod
    def per_minute(cls, per_minute: int, burst: int, **kwargs: object) -> RateLimiter:
        """``per_minute`` a minute, and no more than ``burst`` in its share of a minute."""
        burst = max(1, min(burst, per_minute))
        windows = [Window(per_minute, 60.0)]
        if burst < per_minute:
            windows.append(Window(burst, 60.0 * burst / per_minute))
        return cls(windows, **kwargs)  # type: ignore[arg-type]

    def _wait_needed(self, now: float) -> float:
        while self._grants and self._grants[0] <= now - self._longest:
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
        async with self._lock:
            while True:
                wait = self._wait_needed(self._clock())
                if wait <= 0:
                    break
                await self._sleep(wait)
            self._grants.append(self._clock())
            self.granted += 1

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """``async with limiter.slot(): send()``."""
        await self.acquire()
        yield
