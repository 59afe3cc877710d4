"""Path completion for the import prompt, and the Inbox row's candidate status."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest

from shelver.data.inbox_list import InboxRow
from shelver.widgets.path_input import complete


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "novels").mkdir()
    (tmp_path / "notes").mkdir()
    (tmp_path / "Poems.epub").write_bytes(b"x")
    (tmp_path / "poetry.pdf").write_bytes(b"x")
    (tmp_path / ".hidden").write_bytes(b"x")
    (tmp_path / "with space.epub").write_bytes(b"x")
    return tmp_path


def test_a_unique_folder_completes_with_its_slash(tree: Path) -> None:
    assert complete(f"{tree}/nov").value == f"{tree}/novels/"


def test_several_matches_complete_to_what_they_share(tree: Path) -> None:
    completion = complete(f"{tree}/no")
    assert completion.value == f"{tree}/no"
    assert completion.matches == ["notes/", "novels/"]
    assert complete(f"{tree}/poe").value == f"{tree}/poetry.pdf"


def test_case_is_ignored_only_when_nothing_matches_exactly(tree: Path) -> None:
    assert complete(f"{tree}/Poe").value == f"{tree}/Poems.epub"
    both = complete(f"{tree}/POE")
    assert both.value == f"{tree}/POE"  # two ways to go: keep what was typed, list them
    assert both.matches == ["Poems.epub", "poetry.pdf"]


def test_hidden_entries_only_after_a_dot(tree: Path) -> None:
    assert ".hidden" not in complete(f"{tree}/").matches
    assert complete(f"{tree}/.h").value == f"{tree}/.hidden"


def test_odd_names_and_missing_folders(tree: Path) -> None:
    assert complete(f"{tree}/with").value == f"{tree}/with space.epub"
    assert complete(f"{tree}/nowhere/x").matches == []
    assert complete("").value == ""


def test_home_folder_is_expanded(monkeypatch: pytest.MonkeyPatch, tree: Path) -> None:
    monkeypatch.setenv("HOME", str(tree))
    assert complete("~/nov").value == "~/novels/"


def row(**fields: object) -> InboxRow:
    return InboxRow(id=uuid4(), created_at=datetime.now(UTC), **fields)


@pytest.mark.parametrize(
    ("states", "candidates", "expected"),
    [
        ([], 0, "none"),
        (["ok", "skipped"], 4, "fetched 4"),
        (["failed", "ok"], 2, "failed"),
        (["empty", "skipped"], 0, "no match"),
        (["skipped"], 0, "skipped"),
    ],
)
def test_candidate_status(states: list[str], candidates: int, expected: str) -> None:
    assert row(fetch_states=states, fetched_candidates=candidates).candidate_status == expected


def test_fetch_notes_name_their_provider_once() -> None:
    notes = row(
        fetch_states=["failed", "skipped"],
        fetch_sources=["google_books", "hardcover"],
        fetch_messages=["cannot reach Google Books (ConnectError)", "no token configured"],
    ).fetch_notes
    assert notes == ["cannot reach Google Books (ConnectError)", "Hardcover: no token configured"]
