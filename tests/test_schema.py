"""The migrated database matches shared/spec/database-schema.md, table by table.

The document is parsed here, not restated: a change to the document shows up as a failure.
"""

from __future__ import annotations

import re
from pathlib import Path

import asyncpg
import pytest

SCHEMA_DOC = Path(__file__).resolve().parents[2] / "shared" / "spec" / "database-schema.md"

# How the document spells types, and what PostgreSQL's format_type() calls them.
DOC_TYPE_TO_PG = {
    "uuid": "uuid",
    "text": "text",
    "integer": "integer",
    "bigint": "bigint",
    "jsonb": "jsonb",
    "timestamptz": "timestamp with time zone",
    "tsvector": "tsvector",
    "text[]": "text[]",
}


def parse_schema_document(text: str) -> tuple[dict[str, list[str]], dict[str, list[dict]]]:
    """Enums ``{name: values}`` and tables ``{name: [column dicts]}`` from the document."""
    lines = [line.strip() for line in text.splitlines()]
    enums: dict[str, list[str]] = {}
    for index, line in enumerate(lines):
        if line.startswith("Values:"):
            enums[lines[index - 1]] = [v.strip() for v in line[len("Values:") :].split(",")]
    tables: dict[str, list[dict]] = {}
    for index, line in enumerate(lines):
        if line.startswith("| Column |"):
            name = lines[index - 1]
            columns = []
            for row in lines[index + 2 :]:
                if "|" not in row or row.startswith("| Column"):
                    break
                cells = [c.strip() for c in row.strip("|").split("|")]
                if len(cells) < 4:
                    break
                columns.append(
                    {
                        "name": cells[0],
                        "type": cells[1],
                        "nullable": cells[2] == "Yes",
                        "default": cells[3],
                        "notes": cells[4] if len(cells) > 4 else "",
                    }
                )
            tables[name] = columns
    return enums, tables


@pytest.fixture(scope="module")
def documented() -> tuple[dict[str, list[str]], dict[str, list[dict]]]:
    if not SCHEMA_DOC.exists():
        pytest.skip(f"{SCHEMA_DOC} is absent")
    enums, tables = parse_schema_document(SCHEMA_DOC.read_text(encoding="utf-8"))
    assert len(tables) >= 8, "the schema document parsed into too few tables"
    return enums, tables


def expected_type(doc_type: str, enums: dict[str, list[str]]) -> str:
    enum = re.fullmatch(r"enum\((\w+)\)", doc_type)
    if enum:
        assert enum[1] in enums
        return enum[1]
    numeric = re.fullmatch(r"numeric\((\d+),\s*(\d+)\)", doc_type)
    if numeric:
        return f"numeric({numeric[1]},{numeric[2]})"
    return DOC_TYPE_TO_PG[doc_type]


def default_matches(doc_default: str, actual: str | None, doc_type: str) -> bool:
    if doc_default == "—":
        return actual is None
    if actual is None:
        return False
    if doc_default == "random()":
        return actual == "gen_random_uuid()"
    if doc_default == "now()":
        return actual == "now()"
    if doc_default == "[]":
        return actual.startswith("'{}'")
    if doc_default == "{}":
        return actual.startswith("'{}'") and "json" in actual
    if doc_type.startswith("enum("):
        return actual.startswith(f"'{doc_default}'::")
    return (
        actual == doc_default
        or actual.startswith(f"'{doc_default}'::")
        or actual == f"{doc_default}.0"
    )


async def test_every_documented_table_and_column_exists_exactly(database_dsn, documented):
    enums, tables = documented
    conn = await asyncpg.connect(database_dsn)
    try:
        for enum_name, values in enums.items():
            labels = await conn.fetch(
                "SELECT e.enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid "
                "WHERE t.typname = $1 ORDER BY e.enumsortorder",
                enum_name,
            )
            assert [r["enumlabel"] for r in labels] == values, enum_name

        for table, columns in tables.items():
            rows = await conn.fetch(
                """
                SELECT a.attname AS name,
                       format_type(a.atttypid, a.atttypmod) AS type,
                       NOT a.attnotnull AS nullable,
                       pg_get_expr(d.adbin, d.adrelid) AS default
                FROM pg_attribute a
                LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
                ORDER BY a.attnum
                """,
                table,
            )
            actual = {r["name"]: r for r in rows}
            assert sorted(actual) == sorted(c["name"] for c in columns), (
                f"{table}: columns differ from the document"
            )
            for column in columns:
                row = actual[column["name"]]
                where = f"{table}.{column['name']}"
                assert row["type"] == expected_type(column["type"], enums), where
                if column["notes"] == "PK":
                    # A primary key is NOT NULL whatever the document's column says.
                    assert not row["nullable"], where
                else:
                    assert row["nullable"] == column["nullable"], where
                assert default_matches(column["default"], row["default"], column["type"]), (
                    f"{where}: default {row['default']!r}, document says {column['default']!r}"
                )
                if column["notes"] == "PK":
                    is_pk = await conn.fetchval(
                        "SELECT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a "
                        "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
                        "WHERE i.indrelid = $1::regclass AND i.indisprimary AND a.attname = $2)",
                        table,
                        column["name"],
                    )
                    assert is_pk, f"{where} is not the primary key"
                fk = re.fullmatch(r"FK → (\w+)\.(\w+)", column["notes"])
                if fk:
                    target = await conn.fetchval(
                        "SELECT confrelid::regclass::text FROM pg_constraint "
                        "WHERE conrelid = $1::regclass AND contype = 'f' AND "
                        "conkey = ARRAY[(SELECT attnum FROM pg_attribute WHERE "
                        "attrelid = $1::regclass AND attname = $2)]::int2[]",
                        table,
                        column["name"],
                    )
                    assert target == fk[1], f"{where} should reference {fk[1]}"
    finally:
        await conn.close()


async def test_keys_that_the_document_implies(database_dsn):
    conn = await asyncpg.connect(database_dsn)
    try:

        async def unique_on(table: str, columns: list[str]) -> bool:
            return await conn.fetchval(
                """
                SELECT EXISTS (
                    SELECT 1 FROM pg_index i
                    WHERE i.indrelid = $1::regclass AND i.indisunique
                      AND (SELECT array_agg(a.attname::text ORDER BY k.ord)
                           FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
                           JOIN pg_attribute a ON a.attrelid = i.indrelid
                                              AND a.attnum = k.attnum) = $2::text[])
                """,
                table,
                columns,
            )

        assert await unique_on("book_metadata_candidates", ["book_id", "source"])
        assert await unique_on("reading_progress", ["document", "device"])
        assert await unique_on("service_credentials", ["service", "username"])
        assert await unique_on("api_keys", ["key_prefix"])
        assert await unique_on("hardcover_sync_log", ["book_id"])

        deletes = dict(
            await conn.fetch(
                "SELECT conrelid::regclass::text || '.' || "
                "(SELECT attname FROM pg_attribute"
                " WHERE attrelid = conrelid AND attnum = conkey[1]),"
                " confdeltype::text FROM pg_constraint WHERE contype = 'f'"
            )
        )
        assert deletes["book_files.book_id"] == "c"
        assert deletes["book_metadata_candidates.book_id"] == "c"
        assert deletes["hardcover_sync_log.book_id"] == "c"
        assert deletes["books.possible_duplicate_of"] == "n"

        indexes = {r["indexdef"] for r in await conn.fetch("SELECT indexdef FROM pg_indexes")}
        joined = "\n".join(indexes)
        assert "USING gin (search_vector)" in joined
        assert "gin_trgm_ops" in joined and "shelver_fold(title)" in joined
        assert "shelver_fold(author)" in joined
        assert "(status, created_at DESC)" in joined
        for column in ("isbn_13", "checksum", "content_hash"):
            assert f"({column})" in joined, column
    finally:
        await conn.close()


async def test_search_vector_and_updated_at_triggers(database_dsn):
    conn = await asyncpg.connect(database_dsn)
    try:
        book = await conn.fetchrow(
            "INSERT INTO books (title, author, description, genres, tags) "
            "VALUES ('Война и мир', 'Léon Tolstoï', 'A long novel', '{History}', '{classic}') "
            "RETURNING id, updated_at, search_vector"
        )

        async def finds(words: str) -> bool:
            return await conn.fetchval(
                "SELECT search_vector @@ to_tsquery('simple', shelver_fold($2)) "
                "FROM books WHERE id = $1",
                book["id"],
                words,
            )

        assert await finds("война")
        assert await finds("leon & tolstoi")  # accents folded away
        assert await finds("novel & history & classic")
        assert not await finds("dostoevsky")
        weights = str(book["search_vector"])
        assert "'война':1A" in weights

        await conn.execute("SELECT pg_sleep(0.01)")
        updated = await conn.fetchrow(
            "UPDATE books SET tags = '{reread}' WHERE id = $1 RETURNING updated_at", book["id"]
        )
        assert updated["updated_at"] > book["updated_at"]
        assert await finds("reread")
        assert not await finds("classic")

        # Trigram matching works on non-Latin scripts too (needs a Unicode-aware ctype).
        similarity = await conn.fetchval(
            "SELECT similarity(shelver_fold(title), shelver_fold('Воина и мир')) FROM books"
        )
        assert similarity > 0.3
    finally:
        await conn.close()
