-- OPDS catalogue queries (data/opds.py). Pages are keyset pages in both directions: $1 true
-- for the page after the cursor, false for the page before it (rows then come in reverse and
-- the caller turns them round); the cursor is never NULL (the first page starts after a key
-- below every real one), so each branch is an index range scan however deep the page.

-- name: opds_page_by_title
-- Books of one list by title: keys (title_key, id). `/*filter*/` is replaced by one of the
-- opds_filter_* conditions below (fixed text, chosen by data/opds.py; $5 is the list's value),
-- so each list is its own statement and gets its own plan. The prefix marker takes the WITH
-- clause of the reading list (opds_with_reading).
/*prefix*/
SELECT id, title_key FROM (
    (SELECT b.id, shelver_sort_key(b.title) COLLATE "C" AS title_key
     FROM books b
     WHERE b.status = 'organized' AND $1::bool AND /*filter*/
       AND (shelver_sort_key(b.title) COLLATE "C", b.id) > ($2::text, $3::uuid)
     ORDER BY 2, 1
     LIMIT $4)
    UNION ALL
    (SELECT b.id, shelver_sort_key(b.title) COLLATE "C" AS title_key
     FROM books b
     WHERE b.status = 'organized' AND NOT $1::bool AND /*filter*/
       AND (shelver_sort_key(b.title) COLLATE "C", b.id) < ($2::text, $3::uuid)
     ORDER BY 2 DESC, 1 DESC
     LIMIT $4)
) page;

-- name: opds_filter_all
true

-- name: opds_filter_author
shelver_authors(b.author) @> ARRAY[$5::text]

-- name: opds_filter_genre
b.genres @> ARRAY[$5::text]

-- name: opds_filter_language
shelver_sort_key(b.language) COLLATE "C" = shelver_sort_key($5::text) COLLATE "C"

-- name: opds_filter_format
EXISTS (SELECT 1 FROM book_files f WHERE f.book_id = b.id AND lower(f.format) = lower($5::text))

-- name: opds_filter_reading
b.id = ANY (ARRAY(SELECT book_id FROM opds_reading))

-- name: opds_with_reading
-- Books being read: a KoSync position on one of their files above 0 and under 95 %, written
-- by one of the logins $5 (the reader's own and those sharing with it; NULL: any position).
WITH opds_reading AS MATERIALIZED (
    SELECT linked.book_id
    FROM reading_progress rp
    LEFT JOIN reading_progress_logins o ON o.progress_id = rp.id
    CROSS JOIN LATERAL (SELECT bf.book_id FROM book_files bf
                        WHERE bf.content_hash = rp.document
                        ORDER BY bf.created_at LIMIT 1) linked
    WHERE $5::text[] IS NULL OR o.login = ANY ($5::text[])
    GROUP BY linked.book_id
    HAVING max(rp.percentage) > 0 AND max(rp.percentage) < reading_finished_at()
)

-- name: opds_page_new
-- Recently added first: keys (created_at, id), descending. $2 is the created_at of the cursor.
SELECT id, created_at FROM (
    (SELECT b.id, b.created_at FROM books b
     WHERE b.status = 'organized' AND $1::bool
       AND (b.created_at, b.id) < ($2::timestamptz, $3::uuid)
     ORDER BY b.created_at DESC, b.id DESC
     LIMIT $4)
    UNION ALL
    (SELECT b.id, b.created_at FROM books b
     WHERE b.status = 'organized' AND NOT $1::bool
       AND (b.created_at, b.id) > ($2::timestamptz, $3::uuid)
     ORDER BY b.created_at, b.id
     LIMIT $4)
) page;

-- name: opds_page_series
-- The books of series $5 in series order: keys (series index, title_key, id); $2 the index and
-- $6 the title key of the cursor.
SELECT id, series_index, title_key FROM (
    (SELECT b.id, shelver_series_index(b.tags) AS series_index,
            shelver_sort_key(b.title) COLLATE "C" AS title_key
     FROM books b
     WHERE b.status = 'organized' AND $1::bool AND shelver_series_name(b.tags) = $5::text
       AND (shelver_series_index(b.tags), shelver_sort_key(b.title) COLLATE "C", b.id)
           > ($2::float8, $6::text, $3::uuid)
     ORDER BY 2, 3, 1
     LIMIT $4)
    UNION ALL
    (SELECT b.id, shelver_series_index(b.tags) AS series_index,
            shelver_sort_key(b.title) COLLATE "C" AS title_key
     FROM books b
     WHERE b.status = 'organized' AND NOT $1::bool AND shelver_series_name(b.tags) = $5::text
       AND (shelver_series_index(b.tags), shelver_sort_key(b.title) COLLATE "C", b.id)
           < ($2::float8, $6::text, $3::uuid)
     ORDER BY 2 DESC, 3 DESC, 1 DESC
     LIMIT $4)
) page;

-- name: opds_entries
-- What a feed shows of each book of $1, in that order: its metadata and its files (only files
-- stored in the library can be downloaded). `updated` moves with the book and its files.
SELECT b.id, b.title, b.author, shelver_authors(b.author) AS authors, b.description,
       b.language, b.publisher, b.isbn_13, b.isbn_10, b.published_year, b.genres, b.tags,
       b.cover_path, b.created_at, greatest(b.updated_at, f.updated) AS updated_at, f.files
FROM unnest($1::uuid[]) WITH ORDINALITY AS s(id, ordinal)
JOIN books b ON b.id = s.id AND b.status = 'organized'
CROSS JOIN LATERAL (
    SELECT max(bf.updated_at) AS updated,
           coalesce(jsonb_agg(jsonb_build_object(
               'id', bf.id, 'format', lower(bf.format), 'size', bf.file_size,
               'name', bf.original_name) ORDER BY bf.created_at, bf.id)
               FILTER (WHERE bf.storage_path IS NOT NULL), '[]') AS files
    FROM book_files bf WHERE bf.book_id = b.id
) f
ORDER BY s.ordinal;

-- name: opds_nav_authors
-- Authors with how many books each, by name, after the name $1 (keyset); $2 rows.
SELECT name, count(*) AS books
FROM (SELECT unnest(shelver_authors(b.author)) AS name FROM books b
      WHERE b.status = 'organized') a
GROUP BY name
HAVING (shelver_sort_key(name) COLLATE "C", name) > (shelver_sort_key($1::text) COLLATE "C", $1::text)
ORDER BY shelver_sort_key(name) COLLATE "C", name
LIMIT $2;

-- name: opds_nav_series
SELECT shelver_series_name(b.tags) AS name, count(*) AS books
FROM books b
WHERE b.status = 'organized' AND shelver_series_name(b.tags) IS NOT NULL
  AND shelver_series_name(b.tags) > $1::text
GROUP BY 1
ORDER BY 1
LIMIT $2;

-- name: opds_nav_genres
SELECT name, count(*) AS books
FROM (SELECT unnest(b.genres) AS name FROM books b WHERE b.status = 'organized') g
GROUP BY name
HAVING (shelver_sort_key(name) COLLATE "C", name) > (shelver_sort_key($1::text) COLLATE "C", $1::text)
ORDER BY shelver_sort_key(name) COLLATE "C", name
LIMIT $2;

-- name: opds_nav_languages
SELECT b.language AS name, count(*) AS books
FROM books b
WHERE b.status = 'organized' AND b.language IS NOT NULL AND b.language > $1::text
GROUP BY 1
ORDER BY 1
LIMIT $2;

-- name: opds_nav_formats
SELECT lower(bf.format) AS name, count(DISTINCT bf.book_id) AS books
FROM book_files bf JOIN books b ON b.id = bf.book_id AND b.status = 'organized'
WHERE bf.storage_path IS NOT NULL AND lower(bf.format) > $1::text
GROUP BY 1
ORDER BY 1
LIMIT $2;

-- name: opds_file
-- A file of an organized book, for download.
SELECT bf.id, bf.book_id, lower(bf.format) AS format, bf.original_name, bf.storage_path,
       bf.file_size, bf.checksum, bf.updated_at, b.title, b.author
FROM book_files bf JOIN books b ON b.id = bf.book_id AND b.status = 'organized'
WHERE bf.id = $1 AND bf.storage_path IS NOT NULL;

-- name: opds_cover
-- Where an organized book's cover image is stored, with a stamp that changes with it.
SELECT b.cover_path, b.updated_at FROM books b WHERE b.id = $1 AND b.status = 'organized';
