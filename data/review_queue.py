"""The Review queue as the screen walks it, with no UI: which books wait, which one is shown,
which are being decided, and the books loaded ahead.

The database is the source of truth: every load replaces the list (``load``), keeping the book
being looked at and leaving out books whose decision is still running. A decision takes its book
out at once (``take``), so the next one can be painted before the decision is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from shelver.data.review import ReviewItem

AHEAD = 2
"""Books kept loaded around the one shown."""


@dataclass
class ReviewQueue:
    ids: list[UUID] = field(default_factory=list)
    """The books waiting, oldest first (without those being decided)."""
    total: int = 0
    """How many wait in all (the list may be one page of them)."""
    position: int = 0
    pending: set[UUID] = field(default_factory=set)
    """Books whose decision is running: kept out of the list until it is written."""
    opened: UUID | None = None
    """A book asked for from elsewhere (e.g. the Inbox), shown first even if not in review."""
    cache: dict[UUID, ReviewItem] = field(default_factory=dict)

    # The list -----------------------------------------------------------------------------

    @property
    def current(self) -> UUID | None:
        return self.ids[self.position % len(self.ids)] if self.ids else None

    @property
    def following(self) -> UUID | None:
        """The book after the current one (to load ahead), if it is another one."""
        if len(self.ids) < 2:
            return None
        return self.ids[(self.position + 1) % len(self.ids)]

    def load(self, waiting: list[UUID], total: int, *, looking_at: UUID | None) -> None:
        """The list as the database has it now; stay on ``looking_at`` (or ``opened``) when it
        is still there, else on the same place in the list."""
        ids = [i for i in waiting if i not in self.pending]
        if self.opened is not None and self.opened not in self.pending and self.opened not in ids:
            ids.insert(0, self.opened)
        keep = self.opened if self.opened in ids else looking_at
        if keep is not None and keep in ids:
            self.position = ids.index(keep)
        elif ids:
            self.position = min(self.position, len(ids) - 1)
        else:
            self.position = 0
        self.ids = ids
        self.total = max(total - len(self.pending), len(ids))
        for stale in [k for k in self.cache if k not in ids]:
            del self.cache[stale]

    def step(self, delta: int) -> UUID | None:
        if self.ids:
            self.position = (self.position + delta) % len(self.ids)
        return self.current

    def take(self, book_id: UUID) -> None:
        """A decision on ``book_id`` started: it leaves the list at once."""
        self.pending.add(book_id)
        self.drop(book_id)

    def settle(self, book_id: UUID) -> None:
        """The decision on ``book_id`` is written (or failed)."""
        self.pending.discard(book_id)

    def drop(self, book_id: UUID) -> None:
        """``book_id`` is no longer waiting (decided here or elsewhere)."""
        self.cache.pop(book_id, None)
        if book_id == self.opened:
            self.opened = None
        if book_id in self.ids:
            index = self.ids.index(book_id)
            self.ids.pop(index)
            self.total = max(0, self.total - 1)
            if index < self.position:
                self.position -= 1
            if self.ids:
                self.position %= len(self.ids)
            else:
                self.position = 0

    def put_back(self, book_id: UUID, *, first: bool = False) -> None:
        """A book waits again: at the end (a failed decision) or shown now (an undo)."""
        if book_id in self.ids:
            self.ids.remove(book_id)
            self.total -= 1
        if first:
            self.ids.insert(self.position if self.ids else 0, book_id)
        else:
            self.ids.append(book_id)
        self.total += 1

    # Books loaded ahead -------------------------------------------------------------------

    def remember(self, item: ReviewItem) -> None:
        self.cache[item.book.id] = item
        if self.ids:
            keep = {self.ids[(self.position + d) % len(self.ids)] for d in range(-1, AHEAD + 1)}
            for stale in [k for k in self.cache if k not in keep]:
                del self.cache[stale]
