"""A hostile provider: escape codes, bidi overrides, separators and NUL in its values, and the
Authorization header echoed back in its errors. Nothing of it reaches the terminal, the
database or ``--json`` as sent (issue 14, findings 6 and 7)."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import httpx
import pytest
import respx

from shelver.data import books
from shelver.data.clean_text import UNSAFE_TEXT
from shelver.data.db import Database, DatabaseTarget
from shelver.data.organize import sanitize_part
from tests.test_fetch import GOOGLE, HARDCOVER, _run_cli, add_book

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzZWNyZXQtdXNlciJ9.c2VjcmV0LXNpZ25hdHVyZQ"
HOSTILE_TITLE = "Dune\x1b]0;pwned\x07\x1b[2J\u202eeulb\u2028next\u0085line\x00 Messiah\x9b31m"


def hostile_volume() -> dict:
    return {
        "id": "v\x00hostile",
        "volumeInfo": {
            "title": HOSTILE_TITLE,
            "authors": ["Frank \x1b[31mHerbert\u2066", "\u202bAnonymous\x7f"],
            "publisher": "Ace\u2029Books\x00",
            "description": "<p>Spice\x1b[2J must \u202eflow</p>\x00",
            "categories": ["Fiction\x00 / Science\u2028Fiction"],
            "industryIdentifiers": [{"type": "ISBN_13", "identifier": "9780441172719"}],
        },
    }


def _echo_authorization(request: httpx.Request) -> httpx.Response:
    """What a hostile (or badly made) server does: quote the request's credentials back."""
    header = request.headers.get("authorization", "")
    return httpx.Response(401, json={"error": f"invalid token: Authorization: {header}"})


@pytest.fixture
def hostile_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "home"
    root.mkdir()
    (root / "config.toml").write_text(
        f'[providers]\ngoogle_books_url = "{GOOGLE}"\nhardcover_url = "{HARDCOVER}"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("SHELVER_HARDCOVER_TOKEN", TOKEN)
    monkeypatch.delenv("SHELVER_GOOGLE_BOOKS_KEY", raising=False)
    return root


async def _seed(dsn: str) -> uuid.UUID:
    db = await Database.open(DatabaseTarget(dsn=dsn), max_size=2)
    try:
        return await add_book(db, title="Dune Messiah", author="Frank Herbert")
    finally:
        await db.close()


async def _stored_text(dsn: str, book_id: uuid.UUID) -> str:
    db = await Database.open(DatabaseTarget(dsn=dsn), max_size=2)
    try:
        candidates = await books.candidates_of(db.pool, book_id)
        return json.dumps([c.model_dump(mode="json") for c in candidates], ensure_ascii=False)
    finally:
        await db.close()


@respx.mock
@pytest.mark.parametrize("as_json", [False, True])
def test_fetch_from_a_hostile_provider(
    database_dsn: str, hostile_home: Path, capsys: pytest.CaptureFixture[str], as_json: bool
) -> None:
    book_id = asyncio.run(_seed(database_dsn))
    respx.get(f"{GOOGLE}/volumes").mock(
        return_value=httpx.Response(200, json={"items": [hostile_volume()]})
    )
    respx.post(HARDCOVER).mock(side_effect=_echo_authorization)
    argv = ["--home", str(hostile_home), "--database-url", database_dsn, "fetch"]
    code, out, err = _run_cli([*argv, "--json"] if as_json else argv, capsys)
    printed = out + err
    assert code == 1  # Hardcover refused the token...
    assert "refused the credentials" in printed
    # ...and none of the token made it out, plain or in JSON
    for part in TOKEN.split("."):
        assert part not in printed
    assert not UNSAFE_TEXT.search(printed.replace("\n", "").replace("\r", "").replace("\t", ""))
    # the NUL did not fail Google's candidate; its values are stored cleaned
    stored = asyncio.run(_stored_text(database_dsn, book_id))
    assert "google_books" in stored
    assert "Dune" in stored and "Messiah" in stored and "Herbert" in stored
    assert not UNSAFE_TEXT.search(json.loads(json.dumps(stored)))
    assert "\\u0000" not in stored


def test_file_names_never_carry_unsafe_characters() -> None:
    part = sanitize_part("Dune\u202eeulb\u2028\x1b[2J\u0085x\u2066")
    assert not UNSAFE_TEXT.search(part)
    assert "Dune" in part
