"""Last-Modified that moves exactly when a feed's content does.

A feed has no single row whose time says when it changed (a book leaving a list changes the
list but no row left in it). So the server remembers, per URL and format, the digest of what it
last served and since when: the same content keeps its time, new content gets a new time, later
than the one before. A restart forgets, which only makes clients fetch once more.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import UTC, datetime, timedelta


class ContentClock:
    def __init__(self, max_entries: int = 20_000) -> None:
        self._seen: OrderedDict[str, tuple[str, datetime]] = OrderedDict()
        self._max_entries = max_entries

    def stamp(self, key: str, digest: str, *, now: datetime | None = None) -> datetime:
        """When the content ``digest`` of ``key`` was first served (whole seconds, UTC)."""
        moment = (now or datetime.now(UTC)).replace(microsecond=0)
        known = self._seen.get(key)
        if known is not None:
            if known[0] == digest:
                self._seen.move_to_end(key)
                return known[1]
            # HTTP dates have whole seconds: a change within the same second must still move.
            moment = max(moment, known[1] + timedelta(seconds=1))
        self._seen[key] = (digest, moment)
        self._seen.move_to_end(key)
        while len(self._seen) > self._max_entries:
            self._seen.popitem(last=False)
        return moment
