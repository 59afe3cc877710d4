"""Running a Hardcover sync from a screen and saying in one line how it went.

The token is never shown: the messages here come from fixed text and from
``data.hardcover_sync``'s errors, which never contain it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from rich.text import Text

from shelver.data import hardcover_sync
from shelver.data.db import Database
from shelver.data.hardcover_sync import HardcoverAuthError, HardcoverUnavailable, SyncOutcome
from shelver.data.home import Home
from shelver.data.settings import Settings

HOW_TO_SET_TOKEN = (
    "store your Hardcover API token with 'shelver credentials add hardcover default' "
    f"or set {hardcover_sync.TOKEN_ENV}"
)

OUTCOME_STYLES = {
    "synced": "green",
    "matched": "cyan",
    "unchanged": "dim",
    "no_progress": "dim",
    "no_isbn": "yellow",
    "not_found": "yellow",
    "error": "bold red",
}
OUTCOME_ORDER = ("synced", "matched", "unchanged", "no_progress", "no_isbn", "not_found", "error")
OUTCOME_WORDS = {"no_progress": "no progress", "no_isbn": "no ISBN", "not_found": "not found"}


def outcome_text(outcome: str | None) -> Text:
    if outcome is None:
        return Text("never", "dim")
    return Text(OUTCOME_WORDS.get(outcome, outcome), OUTCOME_STYLES.get(outcome, ""))


@dataclass(frozen=True)
class SyncReport:
    """How a sync run ended: ``ok`` False when it could not run (no token, token refused)."""

    ok: bool
    message: str
    outcomes: list[SyncOutcome] = field(default_factory=list)


def summarize(outcomes: list[SyncOutcome]) -> str:
    """``Hardcover: 2 synced, 1 not found, 1 error`` (only the outcomes that happened)."""
    if not outcomes:
        return "Hardcover: no book to sync yet (none has reading progress)"
    counts = Counter(o.outcome for o in outcomes)
    parts = [
        f"{counts[name]} {OUTCOME_WORDS.get(name, name)}"
        + ("s" if name == "error" and counts[name] > 1 else "")
        for name in OUTCOME_ORDER
        if counts[name]
    ]
    return "Hardcover: " + ", ".join(parts)


async def run_sync(
    database: Database,
    home: Home,
    settings: Settings,
    on_progress: Callable[[int, int], None] | None = None,
) -> SyncReport:
    """One sync run; a missing or refused token becomes a report that says what to do."""
    try:
        outcomes = await hardcover_sync.run(
            database.pool, home.config_dir, settings.providers, on_progress=on_progress
        )
    except (HardcoverUnavailable, HardcoverAuthError) as exc:
        reason = str(exc)
        if "credentials add hardcover" not in reason:
            reason = f"{reason}; {HOW_TO_SET_TOKEN}"
        return SyncReport(False, f"Hardcover sync: {reason}")
    return SyncReport(True, summarize(outcomes), outcomes)
