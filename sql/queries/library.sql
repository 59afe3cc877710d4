-- Library browsing, search, detail and editing. Only organized books are in the Library.
--
-- The page query takes the same parameters everywhere:
--   $1  tsquery from library_search_tsquery, or NULL for no search
--   $2  author filter (folded substring), $3 genre, $4 tag, $5 language, $6 format,
--   $7  reading state: 'unread' | 'reading' | 'finished', or by KOReader's statistics: read
--       in the 'last-week' | 'last-month' | 'last-year', 'never-read' (nor any position),
--       read 'over-1h' | 'over-5h' | 'over-20h'                  (each NULL = no filter)
--   $8  sort: 'relevance' | 'title' | 'author' | 'language' | 'year' | 'reading' |
--       'last_read' | 'time_read' (KOReader's statistics), or for a
--       search that matches too many books to rank, 'title_sorted' (first page, sorted in
--       memory) or 'title_walk' (walking the title index): see data.library.page
--   $9  descending (ignored by relevance, which is always best first)
--   $10 primary text key, $11 title key, $12 numeric key, $13 id: the keys of the last row of
--       the page before (all NULL for the first page); $14 page size; $15 true to skip
--       formats and reading state (walking to a far position needs only the keys).
-- Every sort is a total order ending in id, so keyset pagination never skips or repeats a row.
-- Each (sort, direction) is its own branch (a library_order_* fragment, guarded by a one-time
-- filter too) that walks the matching sort index; the filters are written once, in
-- `candidates`.

-- name: library_search_tsquery
SELECT shelver_search_tsquery($1::text)::text;

-- name: library_candidates
-- The books a Library list holds, with their sort keys: written once, spliced in where
-- library_page and library_count mark "candidates" (data/library.py, the way data/opds.py
-- splices its filters), so a page and its count always agree. Takes the page parameters; a
-- fragment, not a statement.
WITH progress AS MATERIALIZED (
    -- Reading state of each book that has any: its furthest position on any device.
    -- (Driven from reading_progress, one index probe per document: a join would read every
    -- file.)
    SELECT linked.book_id, max(rp.percentage) AS percentage
    FROM reading_progress rp
    CROSS JOIN LATERAL (SELECT bf.book_id FROM book_files bf
                        WHERE bf.content_hash = rp.document
                        ORDER BY bf.created_at LIMIT 1) linked
    GROUP BY linked.book_id
),
stat_totals AS MATERIALIZED (
    -- KOReader's statistics per book: when it was last read, how long (only computed when a
    -- statistics order asks for it).
    SELECT linked.book_id, max(t.last_read) AS last_read, sum(t.seconds)::float8 AS seconds
    FROM reading_stat_books t
    CROSS JOIN LATERAL (SELECT bf.book_id FROM book_files bf
                        WHERE bf.content_hash = t.document
                        ORDER BY bf.created_at LIMIT 1) linked
    WHERE t.visits > 0
    GROUP BY linked.book_id
),
metric AS MATERIALIZED (
    -- The number a reading order sorts by: the furthest position ('reading'), or by the
    -- statistics when the book was last read ('last_read') or how long ('time_read').
    SELECT book_id, percentage::float8 AS value FROM progress WHERE $8::text = 'reading'
    UNION ALL
    SELECT book_id,
           CASE WHEN $8::text = 'last_read' THEN extract(epoch FROM last_read)::float8
                ELSE seconds END
    FROM stat_totals WHERE $8::text IN ('last_read', 'time_read')
),
candidates AS NOT MATERIALIZED (
    SELECT b.id, b.title, b.author, b.published_year, b.language,
           shelver_sort_key(b.title) COLLATE "C" AS title_key,
           shelver_sort_key(b.author) COLLATE "C" AS author_key,
           shelver_sort_key(b.language) COLLATE "C" AS language_key,
           shelver_sort_year(b.published_year) AS year_key,
           CASE WHEN $1::tsquery IS NULL THEN NULL
                ELSE ts_rank(b.search_vector, $1::tsquery) END AS rank
    FROM books b
    WHERE b.status = 'organized'
      AND ($1::tsquery IS NULL OR b.search_vector @@ $1::tsquery)
      AND ($2::text IS NULL OR shelver_fold(b.author) LIKE
           '%' || replace(replace(replace(shelver_fold($2::text), '\', '\\'), '%', '\%'),
                          '_', '\_') || '%')
      AND ($3::text IS NULL OR EXISTS (
              SELECT 1 FROM unnest(b.genres) g WHERE shelver_fold(g) = shelver_fold($3::text)))
      AND ($4::text IS NULL OR EXISTS (
              SELECT 1 FROM unnest(b.tags) t WHERE shelver_fold(t) = shelver_fold($4::text)))
      AND ($5::text IS NULL OR lower(b.language) = lower($5::text))
      AND ($6::text IS NULL OR EXISTS (
              SELECT 1 FROM book_files f
              WHERE f.book_id = b.id AND lower(f.format) = lower($6::text)))
      AND ($7::text IS NULL
           OR ($7::text = 'unread' AND b.id NOT IN (
                   SELECT book_id FROM progress WHERE percentage > 0))
           -- (= ANY of an array, not IN: the few books being read are looked up by id
           -- rather than sought in a walk over the whole library)
           OR ($7::text = 'reading' AND b.id = ANY (ARRAY(
                   SELECT book_id FROM progress WHERE percentage > 0 AND percentage < reading_finished_at())))
           OR ($7::text = 'finished' AND b.id = ANY (ARRAY(
                   SELECT book_id FROM progress WHERE percentage >= reading_finished_at())))
           -- read (by KOReader's statistics) in the last 7, 30 or 365 days
           OR ($7::text LIKE 'last-%' AND b.id = ANY (ARRAY(
                   SELECT book_id FROM stat_totals
                   WHERE last_read >= now() - CASE $7::text
                       WHEN 'last-week' THEN interval '7 days'
                       WHEN 'last-month' THEN interval '30 days'
                       ELSE interval '365 days' END)))
           -- never read: no statistics and no position past the start
           OR ($7::text = 'never-read'
               AND b.id NOT IN (SELECT book_id FROM stat_totals)
               AND b.id NOT IN (SELECT book_id FROM progress WHERE percentage > 0))
           -- read (by KOReader's statistics) for more than 1, 5 or 20 hours
           OR ($7::text LIKE 'over-%' AND b.id = ANY (ARRAY(
                   SELECT book_id FROM stat_totals
                   WHERE seconds > 3600 * CASE $7::text
                       WHEN 'over-1h' THEN 1 WHEN 'over-5h' THEN 5 ELSE 20 END))))
)

-- name: library_page
-- One page in one order: the candidates, the branch of that order (a library_order_* fragment,
-- chosen by data.library.page_statement), then formats and reading state for its rows only.
-- Only that branch is in the statement: each call gets a custom plan (the parameters decide
-- whether the search index is used at all), and planning twelve branches to drop eleven took
-- longer than running the one.
/*candidates*/,
parameters AS (
    -- Never read: gives the cursor keys and page size their types, whichever the branch uses.
    SELECT $9::bool, $10::text, $11::text, $12::float8, $13::uuid, $14::bigint
),
page AS (
/*order*/
)
SELECT p.id, p.title, p.author, p.published_year, p.language, p.rank, p.ordered_by,
       p.title_key, p.author_key, p.language_key, p.year_key, p.reading_key,
       f.formats, f.reading_percentage
FROM page p
CROSS JOIN LATERAL (
    -- Only for the rows of the page: formats, and the furthest position on any device.
    SELECT coalesce(array_agg(DISTINCT lower(bf.format) ORDER BY lower(bf.format)), '{}')
               AS formats,
           (SELECT max(rp.percentage) FROM reading_progress rp
             WHERE rp.document = ANY(array_agg(bf.content_hash))) AS reading_percentage
    FROM book_files bf WHERE bf.book_id = p.id AND NOT $15::bool
) f
ORDER BY p.ordinal;

-- name: library_order_relevance
-- Best match first (a search that matches few enough books to rank). Every match is ranked on
-- its rank and title key alone; the other columns (the author and language keys cost as much
-- again) are computed for the page's rows only, one primary-key probe each (OFFSET 0 keeps it a
-- probe).
(SELECT c.*, NULL::float8 AS reading_key, 'relevance' AS ordered_by,
        row_number() OVER (ORDER BY c.rank DESC, c.title_key, c.id) AS ordinal
 FROM (SELECT m.id FROM candidates m
       WHERE $8::text = 'relevance' AND $1::tsquery IS NOT NULL
         AND ($13::uuid IS NULL OR m.rank < $12::float8
              OR (m.rank = $12::float8 AND (m.title_key, m.id) > ($11::text, $13::uuid)))
       ORDER BY m.rank DESC, m.title_key, m.id
       LIMIT $14) chosen
 CROSS JOIN LATERAL (SELECT * FROM candidates c0 WHERE c0.id = chosen.id OFFSET 0) c
 ORDER BY c.rank DESC, c.title_key, c.id)

-- name: library_order_title
-- By title, walking the title index (also a search too broad to sort, and relevance order
-- without a search).
(SELECT c.*, NULL::float8 AS reading_key, 'title' AS ordered_by,
        row_number() OVER (ORDER BY c.title_key, c.id) AS ordinal
 FROM candidates c
 WHERE (($8::text = 'title' AND NOT $9::bool)
        OR $8::text = 'title_walk'
        OR ($8::text = 'relevance' AND $1::tsquery IS NULL))
   AND ($13::uuid IS NULL
        OR (c.title_key, c.id) > ($11::text, $13::uuid))
 ORDER BY c.title_key, c.id
 LIMIT $14)

-- name: library_order_title_sorted
-- The same order, sorted rather than walked (`|| ''` keeps the planner off the index). As in
-- library_order_relevance, the matches are sorted on the title key alone and the other columns
-- computed for the page's rows only.
(SELECT c.*, NULL::float8 AS reading_key, 'title' AS ordered_by,
        row_number() OVER (ORDER BY c.title_key, c.id) AS ordinal
 FROM (SELECT m.id FROM candidates m
       WHERE $8::text = 'title_sorted' AND $13::uuid IS NULL
       ORDER BY m.title_key || '', m.id
       LIMIT $14) chosen
 CROSS JOIN LATERAL (SELECT * FROM candidates c0 WHERE c0.id = chosen.id OFFSET 0) c
 ORDER BY c.title_key, c.id)

-- name: library_order_title_desc
-- By title, last first.
(SELECT c.*, NULL::float8 AS reading_key, 'title' AS ordered_by,
        row_number() OVER (ORDER BY c.title_key DESC, c.id DESC) AS ordinal
 FROM candidates c
 WHERE $8::text = 'title' AND $9::bool
   AND ($13::uuid IS NULL
        OR (c.title_key, c.id) < ($11::text, $13::uuid))
 ORDER BY c.title_key DESC, c.id DESC
 LIMIT $14)

-- name: library_order_author
-- By author, then title.
(SELECT c.*, NULL::float8 AS reading_key, 'author' AS ordered_by,
        row_number() OVER (ORDER BY c.author_key, c.title_key, c.id) AS ordinal
 FROM candidates c
 WHERE $8::text = 'author' AND NOT $9::bool
   AND ($13::uuid IS NULL
        OR (c.author_key, c.title_key, c.id) > ($10::text, $11::text, $13::uuid))
 ORDER BY c.author_key, c.title_key, c.id
 LIMIT $14)

-- name: library_order_author_desc
-- By author, then title, last first.
(SELECT c.*, NULL::float8 AS reading_key, 'author' AS ordered_by,
        row_number() OVER (ORDER BY c.author_key DESC, c.title_key DESC, c.id DESC) AS ordinal
 FROM candidates c
 WHERE $8::text = 'author' AND $9::bool
   AND ($13::uuid IS NULL
        OR (c.author_key, c.title_key, c.id) < ($10::text, $11::text, $13::uuid))
 ORDER BY c.author_key DESC, c.title_key DESC, c.id DESC
 LIMIT $14)

-- name: library_order_language
-- By language, then title.
(SELECT c.*, NULL::float8 AS reading_key, 'language' AS ordered_by,
        row_number() OVER (ORDER BY c.language_key, c.title_key, c.id) AS ordinal
 FROM candidates c
 WHERE $8::text = 'language' AND NOT $9::bool
   AND ($13::uuid IS NULL
        OR (c.language_key, c.title_key, c.id) > ($10::text, $11::text, $13::uuid))
 ORDER BY c.language_key, c.title_key, c.id
 LIMIT $14)

-- name: library_order_language_desc
-- By language, then title, last first.
(SELECT c.*, NULL::float8 AS reading_key, 'language' AS ordered_by,
        row_number() OVER (ORDER BY c.language_key DESC, c.title_key DESC, c.id DESC) AS ordinal
 FROM candidates c
 WHERE $8::text = 'language' AND $9::bool
   AND ($13::uuid IS NULL
        OR (c.language_key, c.title_key, c.id) < ($10::text, $11::text, $13::uuid))
 ORDER BY c.language_key DESC, c.title_key DESC, c.id DESC
 LIMIT $14)

-- name: library_order_year
-- By year, then title.
(SELECT c.*, NULL::float8 AS reading_key, 'year' AS ordered_by,
        row_number() OVER (ORDER BY c.year_key, c.title_key, c.id) AS ordinal
 FROM candidates c
 WHERE $8::text = 'year' AND NOT $9::bool
   AND ($13::uuid IS NULL
        OR (c.year_key, c.title_key, c.id) > ($12::float8::integer, $11::text, $13::uuid))
 ORDER BY c.year_key, c.title_key, c.id
 LIMIT $14)

-- name: library_order_year_desc
-- By year, then title, last first.
(SELECT c.*, NULL::float8 AS reading_key, 'year' AS ordered_by,
        row_number() OVER (ORDER BY c.year_key DESC, c.title_key DESC, c.id DESC) AS ordinal
 FROM candidates c
 WHERE $8::text = 'year' AND $9::bool
   AND ($13::uuid IS NULL
        OR (c.year_key, c.title_key, c.id) < ($12::float8::integer, $11::text, $13::uuid))
 ORDER BY c.year_key DESC, c.title_key DESC, c.id DESC
 LIMIT $14)

-- name: library_order_reading
-- By the reading number (position, last read or time read; books without one first, by title).
(SELECT m.*, row_number() OVER (ORDER BY m.reading_key, m.title_key, m.id) AS ordinal
 FROM ((SELECT c.*, -1::float8 AS reading_key, $8::text AS ordered_by
        FROM candidates c
        WHERE $8::text IN ('reading', 'last_read', 'time_read') AND NOT $9::bool
          AND c.id NOT IN (SELECT book_id FROM metric)
          AND ($13::uuid IS NULL
               OR ($12::float8 = -1 AND (c.title_key, c.id) > ($11::text, $13::uuid)))
        ORDER BY c.title_key, c.id
        LIMIT $14)
       UNION ALL
       (SELECT c.*, pr.value, $8::text
        FROM metric pr
        -- one primary-key probe per book with progress (OFFSET 0 keeps it a probe)
        CROSS JOIN LATERAL (SELECT * FROM candidates c0 WHERE c0.id = pr.book_id
                            OFFSET 0) c
        WHERE $8::text IN ('reading', 'last_read', 'time_read') AND NOT $9::bool
          AND ($13::uuid IS NULL OR (pr.value, c.title_key, c.id)
                                    > ($12::float8, $11::text, $13::uuid))
        ORDER BY pr.value, c.title_key, c.id
        LIMIT $14)) m
 ORDER BY m.reading_key, m.title_key, m.id
 LIMIT $14)

-- name: library_order_reading_desc
-- By the reading number, highest first (books without one last).
(SELECT m.*,
        row_number() OVER (ORDER BY m.reading_key DESC, m.title_key DESC, m.id DESC) AS ordinal
 FROM ((SELECT c.*, -1::float8 AS reading_key, $8::text AS ordered_by
        FROM candidates c
        WHERE $8::text IN ('reading', 'last_read', 'time_read') AND $9::bool
          AND c.id NOT IN (SELECT book_id FROM metric)
          AND ($13::uuid IS NULL OR $12::float8 > -1
               OR ($12::float8 = -1 AND (c.title_key, c.id) < ($11::text, $13::uuid)))
        ORDER BY c.title_key DESC, c.id DESC
        LIMIT $14)
       UNION ALL
       (SELECT c.*, pr.value, $8::text
        FROM metric pr
        -- one primary-key probe per book with progress (OFFSET 0 keeps it a probe)
        CROSS JOIN LATERAL (SELECT * FROM candidates c0 WHERE c0.id = pr.book_id
                            OFFSET 0) c
        WHERE $8::text IN ('reading', 'last_read', 'time_read') AND $9::bool
          AND ($13::uuid IS NULL OR (pr.value, c.title_key, c.id)
                                    < ($12::float8, $11::text, $13::uuid))
        ORDER BY pr.value DESC, c.title_key DESC, c.id DESC
        LIMIT $14)) m
 ORDER BY m.reading_key DESC, m.title_key DESC, m.id DESC
 LIMIT $14)

-- name: library_count
-- How many books match (all $13 NULL), or how many come before the row whose keys are given
-- ($10-$13, in the order $8/$9): the position of that row, to put the cursor back on it.
-- $14 caps the count (NULL: no cap).
-- Same parameters and the same `candidates` (library_candidates) as library_page.
/*candidates*/
SELECT count(*) FROM (
SELECT 1
FROM candidates c
-- Progress is only read to place a row in reading order (the join is dropped otherwise).
LEFT JOIN metric pr ON $8::text IN ('reading', 'last_read', 'time_read')
    AND $13::uuid IS NOT NULL AND pr.book_id = c.id
WHERE $13::uuid IS NULL
   OR CASE WHEN $8::text = 'relevance' AND $12::float8 IS NOT NULL THEN
           c.rank > $12::float8
           OR (c.rank = $12::float8 AND (c.title_key, c.id) < ($11::text, $13::uuid))
      WHEN NOT $9::bool THEN CASE replace(replace($8::text, 'last_read', 'reading'),
                                          'time_read', 'reading')
           WHEN 'author' THEN (c.author_key, c.title_key, c.id) < ($10::text, $11::text, $13::uuid)
           WHEN 'language' THEN
               (c.language_key, c.title_key, c.id) < ($10::text, $11::text, $13::uuid)
           WHEN 'year' THEN
               (c.year_key, c.title_key, c.id) < ($12::float8::integer, $11::text, $13::uuid)
           WHEN 'reading' THEN
               (coalesce(pr.value, -1), c.title_key, c.id) < ($12::float8, $11::text, $13::uuid)
           ELSE (c.title_key, c.id) < ($11::text, $13::uuid) END
      ELSE CASE replace(replace($8::text, 'last_read', 'reading'), 'time_read', 'reading')
           WHEN 'author' THEN (c.author_key, c.title_key, c.id) > ($10::text, $11::text, $13::uuid)
           WHEN 'language' THEN
               (c.language_key, c.title_key, c.id) > ($10::text, $11::text, $13::uuid)
           WHEN 'year' THEN
               (c.year_key, c.title_key, c.id) > ($12::float8::integer, $11::text, $13::uuid)
           WHEN 'reading' THEN
               (coalesce(pr.value, -1), c.title_key, c.id) > ($12::float8, $11::text, $13::uuid)
           ELSE (c.title_key, c.id) > ($11::text, $13::uuid) END
      END
LIMIT $14  -- a cap (NULL: none), to ask "more than N?" cheaply
) counted;

-- name: library_rows_by_ids
-- Rows in the order of $1 (the typo-tolerant matches, best first).
WITH progress AS MATERIALIZED (
    SELECT bf.book_id, max(rp.percentage) AS percentage
    FROM reading_progress rp
    JOIN book_files bf ON bf.content_hash = rp.document
    WHERE bf.book_id = ANY($1::uuid[])
    GROUP BY bf.book_id
)
SELECT b.id, b.title, b.author, b.published_year, b.language, s.score::float8 AS rank,
       'fuzzy' AS ordered_by,
       shelver_sort_key(b.title) COLLATE "C" AS title_key,
       shelver_sort_key(b.author) COLLATE "C" AS author_key,
       shelver_sort_key(b.language) COLLATE "C" AS language_key,
       shelver_sort_year(b.published_year) AS year_key,
       NULL::float8 AS reading_key,
       coalesce(f.formats, '{}') AS formats,
       pr.percentage AS reading_percentage
FROM unnest($1::uuid[], $2::float4[]) WITH ORDINALITY AS s(id, score, ordinal)
JOIN books b ON b.id = s.id AND b.status = 'organized'
LEFT JOIN LATERAL (
    SELECT array_agg(DISTINCT lower(bf.format) ORDER BY lower(bf.format)) AS formats
    FROM book_files bf WHERE bf.book_id = b.id
) f ON true
LEFT JOIN progress pr ON pr.book_id = b.id
ORDER BY s.ordinal;

-- name: library_fuzzy_matches
SELECT book_id, score FROM shelver_fuzzy_books($1::text, $2::integer);

-- name: library_book_positions
-- Where each device is in a book: progress whose document is the content hash of one of its
-- files, newest first, with the KoSync login that wrote it and the device named as it sent
-- its name (the stored name may be qualified, see data/kosync.py).
SELECT rp.document, coalesce(o.device, rp.device) AS device, rp.device_id, rp.percentage,
       rp.progress, rp."timestamp", rp.updated_at, bf.id AS file_id, o.login
FROM book_files bf
JOIN reading_progress rp ON rp.document = bf.content_hash
LEFT JOIN reading_progress_logins o ON o.progress_id = rp.id
WHERE bf.book_id = $1
ORDER BY rp.updated_at DESC, o.login, rp.device;

-- name: library_book_hardcover_sync
SELECT hardcover_user_book_id, hardcover_read_id, last_status, last_progress, last_rating,
       last_synced_at
FROM hardcover_sync_log WHERE book_id = $1;

-- name: library_update_book
-- $2 names the fields to change; the others keep their value (so NULL can be written on
-- purpose). The search-vector trigger follows title, author, description, genres and tags.
UPDATE books SET
    title          = CASE WHEN 'title' = ANY($2::text[]) THEN $3::text ELSE title END,
    author         = CASE WHEN 'author' = ANY($2::text[]) THEN $4::text ELSE author END,
    isbn_10        = CASE WHEN 'isbn_10' = ANY($2::text[]) THEN $5::text ELSE isbn_10 END,
    isbn_13        = CASE WHEN 'isbn_13' = ANY($2::text[]) THEN $6::text ELSE isbn_13 END,
    publisher      = CASE WHEN 'publisher' = ANY($2::text[]) THEN $7::text ELSE publisher END,
    published_year = CASE WHEN 'published_year' = ANY($2::text[]) THEN $8::integer
                          ELSE published_year END,
    language       = CASE WHEN 'language' = ANY($2::text[]) THEN $9::text ELSE language END,
    description    = CASE WHEN 'description' = ANY($2::text[]) THEN $10::text
                          ELSE description END,
    cover_url      = CASE WHEN 'cover_url' = ANY($2::text[]) THEN $11::text ELSE cover_url END,
    page_count     = CASE WHEN 'page_count' = ANY($2::text[]) THEN $12::integer
                          ELSE page_count END,
    genres         = CASE WHEN 'genres' = ANY($2::text[]) THEN $13::text[] ELSE genres END,
    tags           = CASE WHEN 'tags' = ANY($2::text[]) THEN $14::text[] ELSE tags END
WHERE id = $1
RETURNING id, status, title, author, isbn_10, isbn_13, publisher, published_year, language,
          description, cover_url, cover_path, page_count, genres, tags, hardcover_book_id,
          hardcover_edition_id, possible_duplicate_of, approved_at, created_at, updated_at;

-- name: library_edit_tags
-- Add the tags $2 to and remove the tags $3 from every book in $1, case-insensitively,
-- keeping each book's existing order and spelling; books whose tags do not change are left
-- alone. Returns the ids of the books that changed.
WITH edited AS (
    SELECT b.id,
           ARRAY(SELECT d.tag
                 FROM (SELECT (array_agg(u.tag ORDER BY u.n))[1] AS tag, min(u.n) AS first
                       FROM unnest(b.tags || $2::text[]) WITH ORDINALITY AS u(tag, n)
                       WHERE lower(u.tag) <> ALL (SELECT lower(x) FROM unnest($3::text[]) x)
                       GROUP BY lower(u.tag)) d
                 ORDER BY d.first) AS tags
    FROM books b
    WHERE b.id = ANY($1::uuid[])
)
UPDATE books b SET tags = e.tags
FROM edited e
WHERE b.id = e.id AND b.tags IS DISTINCT FROM e.tags
RETURNING b.id;

-- name: library_row_keys
-- The sort keys of one organized book (to find its place in a list), and whether it matches
-- the search $2 (a tsquery, or NULL).
SELECT b.id,
       shelver_sort_key(b.title) COLLATE "C" AS title_key,
       shelver_sort_key(b.author) COLLATE "C" AS author_key,
       shelver_sort_key(b.language) COLLATE "C" AS language_key,
       shelver_sort_year(b.published_year) AS year_key,
       CASE WHEN $2::tsquery IS NULL THEN NULL
            ELSE ts_rank(b.search_vector, $2::tsquery) END AS rank,
       coalesce(pr.percentage::float8, -1) AS reading_key,
       coalesce(extract(epoch FROM st.last_read)::float8, -1) AS last_read_key,
       coalesce(st.seconds::float8, -1) AS time_read_key,
       ($2::tsquery IS NULL OR b.search_vector @@ $2::tsquery) AS matches
FROM books b
LEFT JOIN LATERAL (
    SELECT max(rp.percentage) AS percentage
    FROM book_files bf JOIN reading_progress rp ON rp.document = bf.content_hash
    WHERE bf.book_id = b.id
) pr ON true
LEFT JOIN LATERAL (
    SELECT max(s.last_read) AS last_read, sum(s.seconds) AS seconds
    FROM book_files bf JOIN reading_stat_books s ON s.document = bf.content_hash
    WHERE bf.book_id = b.id AND s.visits > 0
) st ON true
WHERE b.id = $1 AND b.status = 'organized';
