"""The one async rate limiter of shelver's outgoing requests (metadata fetches, Hardcover sync).

Hardcover allows 60 requests a minute with bursts of 10. One limiter object is shared by every
concurrent request of a job, so the allowance holds however many books are worked on at once.
Two shapes of allowance, one waiting line:

- **Windows** (``per_minute``, the metadata fetch): never more than a window's limit in any
  interval of its length. Each window is stretched by a small safety margin because the server
  counts arrivals, which come a little after our grants and not always in the same spacing.
- **A token bucket** (``token_bucket``, the sync): ``burst`` at once, then one every
  ``60 / per_minute`` seconds on average (kept as the time the next grant is due).
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


@dataclass(frozen=True)
class Bucket:
    """A token bucket: one grant every ``interval`` seconds, ``capacity`` of them saved up."""

    interval: float
    capacity: int


SAFETY_FACTOR = 1.03
SAFETY_SECONDS = 0.02


class RateLimiter:
    """Grants slots so that no window's limit and no bucket is ever exceeded; waiters are served
    in order."""

    def __init__(
        self,
        windows: list[Window] | None = None,
        *,
        bucket: Bucket | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        safety: bool = True,
    ) -> None:
        if not windows and bucket is None:
            raise ValueError("a rate limiter needs a window or a bucket")
        self.windows = [
            Window(w.limit, w.seconds * SAFETY_FACTOR + SAFETY_SECONDS if safety else w.seconds)
            for w in windows or []
        ]
        self.bucket = bucket
        self._longest = max((w.seconds for w in self.windows), default=0.0)
        self._grants: deque[float] = deque()
        self._due: float | None = None
        """When the bucket's next grant is due; the bucket is full while it is in the past."""
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

    @classmethod
    def token_bucket(cls, per_minute: int, burst: int, **kwargs: object) -> RateLimiter:
        """``burst`` at once, then ``per_minute`` a minute on average."""
        capacity = max(1, min(burst, per_minute))
        return cls(bucket=Bucket(60.0 / per_minute, capacity), **kwargs)  # type: ignore[arg-type]

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
        if self.bucket is not None and self._due is not None:
            # A full bucket lets ``capacity`` grants through before the due time is reached.
            saved_up = (self.bucket.capacity - 1) * self.bucket.interval
            wait = max(wait, self._due - saved_up - now)
        return wait

    async def acquire(self) -> None:
        """Wait until one more request fits every window and the bucket, and count it."""
        async with self._lock:
            now = self._clock()
            while (wait := self._wait_needed(now)) > 0:
                await self._sleep(wait)
                # Never earlier than planned, even on a clock that stands still (tests).
                now = max(self._clock(), now + wait)
            if self.windows:
                self._grants.append(now)
            if self.bucket is not None:
                self._due = max(self._due if self._due is not None else now, now)
                self._due += self.bucket.interval
            self.granted += 1

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """``async with limiter.slot(): send()``."""
        await self.acquire()
        yield
