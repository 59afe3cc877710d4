-- name: stats_upsert_books
-- The books of a statistics file (arrays in parallel). A document's title and other fields
-- come from the newest row (by last_open); a row that changes nothing is not touched.
INSERT INTO reading_stat_books AS b
    (document, title, authors, series, language, pages, last_open, highlights, notes)
SELECT *
FROM unnest(
    $1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::integer[],
    $7::timestamptz[], $8::integer[], $9::integer[]
)
ORDER BY 1
ON CONFLICT (document) DO UPDATE SET
    title = EXCLUDED.title,
    authors = EXCLUDED.authors,
    series = EXCLUDED.series,
    language = EXCLUDED.language,
    pages = EXCLUDED.pages,
    last_open = EXCLUDED.last_open,
    highlights = EXCLUDED.highlights,
    notes = EXCLUDED.notes,
    updated_at = now()
WHERE coalesce(EXCLUDED.last_open, '-infinity') >= coalesce(b.last_open, '-infinity')
  AND (b.title, b.authors, b.series, b.language, b.pages, b.last_open, b.highlights, b.notes)
      IS DISTINCT FROM
      (EXCLUDED.title, EXCLUDED.authors, EXCLUDED.series, EXCLUDED.language, EXCLUDED.pages,
       EXCLUDED.last_open, EXCLUDED.highlights, EXCLUDED.notes);

-- name: stats_import_lock
-- One import at a time across processes (the server's and `shelver stats import`).
SELECT pg_advisory_xact_lock(7368656212);

-- name: stats_create_staging
-- Where COPY puts a file's page visits before one INSERT takes the new ones.
CREATE TEMP TABLE reading_stat_staging (
    document text, start_time bigint, page integer, duration integer, total_pages integer
) ON COMMIT DROP;

-- name: stats_insert_visits
-- Add the staged visits not stored yet; the number added. Imports hold stats_import_lock,
-- so no other transaction adds visits meanwhile (no ON CONFLICT needed, and none paid for).
WITH added AS (
    INSERT INTO reading_page_visits (document, started_at, page, duration, total_pages)
    -- (DISTINCT ON: one document seen under two titles may bring a visit twice)
    SELECT DISTINCT ON (s.document, s.start_time, s.page)
           s.document, to_timestamp(s.start_time), s.page, s.duration, s.total_pages
    FROM reading_stat_staging s
    -- Visits already stored are skipped by an anti-join rather than one ON CONFLICT probe
    -- each, and the rest goes in in key order (index pages filled in turn, not at random).
    WHERE NOT EXISTS (
        SELECT 1 FROM reading_page_visits v
        WHERE v.document = s.document AND v.started_at = to_timestamp(s.start_time)
          AND v.page = s.page
    )
    ORDER BY s.document, s.start_time, s.page
    RETURNING 1
)
SELECT count(*) FROM added;

-- name: stats_record_import
INSERT INTO reading_stat_imports
    (source, login, file_sha256, file_size, outcome, detail, books, visits_added)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8);

-- name: stats_seen_file
-- Whether a file with this SHA-256 was recorded with this outcome before.
SELECT EXISTS (
    SELECT 1 FROM reading_stat_imports WHERE file_sha256 = $1 AND outcome = $2
);

-- name: stats_last_import
SELECT source, login, outcome, detail, books, visits_added, imported_at
FROM reading_stat_imports
ORDER BY imported_at DESC, id DESC
LIMIT 1;
