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
-- One import at a time across processes (the server's and `shelver stats import`), and room
-- for its sorts and hashes of half a million visits in memory (for this transaction only).
SELECT pg_advisory_xact_lock(7368656212), set_config('work_mem', '64MB', true);

-- name: stats_stage_books
-- Which of shelver's books (reading_stat_books.id) each of the file's book ids ($1) is, by
-- their documents ($2), after stats_upsert_books. `fresh`: the book has no visits stored yet
-- and comes under one book id only, so every visit of it is new and is copied straight in.
SELECT f.id_book, b.id AS stat_book, b.visits = 0 AND count(*) OVER (PARTITION BY b.id) = 1 AS fresh
FROM unnest($1::integer[], $2::text[]) AS f (id_book, document)
JOIN reading_stat_books b ON b.document = f.document;

-- name: stats_create_staging
-- Where COPY puts the visits of books that have some stored already, before
-- stats_insert_visits takes the new ones.
CREATE TEMP TABLE reading_stat_staging (
    stat_book integer, start_time bigint, page integer, duration integer, total_pages integer
) ON COMMIT DROP;

-- name: stats_insert_visits
-- Add the staged visits not stored yet; how many, and of which books. Imports hold
-- stats_import_lock, so no other transaction adds visits meanwhile: an anti-join against the
-- primary key finds the new ones (one document under two book ids may bring a visit twice:
-- DISTINCT ON).
WITH added AS (
    INSERT INTO reading_page_visits (stat_book, start_time, page, duration, total_pages)
    SELECT DISTINCT ON (s.stat_book, s.start_time, s.page)
           s.stat_book, s.start_time, s.page, s.duration, s.total_pages
    FROM reading_stat_staging s
    WHERE NOT EXISTS (
        SELECT 1 FROM reading_page_visits v
        WHERE v.stat_book = s.stat_book AND v.start_time = s.start_time AND v.page = s.page
    )
    ORDER BY s.stat_book, s.start_time, s.page
    RETURNING stat_book
)
SELECT count(*) AS added, coalesce(array_agg(DISTINCT stat_book), '{}') AS books FROM added;

-- name: stats_refresh_totals
-- Recount the totals and quarter hours of the books given (migration 0026).
SELECT reading_stat_refresh($1::integer[]);

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
