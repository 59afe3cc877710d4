-- name: count_books_by_status
SELECT count(*) FILTER (WHERE status = 'inbox')     AS inbox,
       count(*) FILTER (WHERE status = 'review')    AS review,
       count(*) FILTER (WHERE status = 'organized') AS organized
FROM books;

-- name: list_books_by_status
-- Newest first, one page at a time: $2/$3 are the (created_at, id) of the last row already
-- shown, or NULL for the first page.
SELECT b.id, b.status, b.title, b.author, b.published_year, b.language,
       b.possible_duplicate_of, b.created_at,
       coalesce(f.formats, '{}') AS formats,
       coalesce(f.file_size, 0) AS file_size,
       (SELECT count(*) FROM book_metadata_candidates c
         WHERE c.book_id = b.id AND c.source <> 'file') AS candidate_count
FROM books b
LEFT JOIN LATERAL (
    SELECT array_agg(DISTINCT bf.format ORDER BY bf.format) AS formats,
           sum(bf.file_size)::bigint AS file_size
    FROM book_files bf WHERE bf.book_id = b.id
) f ON true
WHERE b.status = $1::book_status
  AND ($2::timestamptz IS NULL OR (b.created_at, b.id) < ($2, $3::uuid))
ORDER BY b.created_at DESC, b.id DESC
LIMIT $4;

-- name: get_book
SELECT id, status, title, author, isbn_10, isbn_13, publisher, published_year, language,
       description, cover_url, cover_path, page_count, genres, tags, hardcover_book_id,
       hardcover_edition_id, possible_duplicate_of, approved_at, created_at, updated_at
FROM books WHERE id = $1;

-- name: insert_book
INSERT INTO books (status, title, author, isbn_10, isbn_13, publisher, published_year,
                   language, description, cover_url, page_count, genres, tags, cover_path)
VALUES ($1::book_status, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
RETURNING id, status, title, author, isbn_10, isbn_13, publisher, published_year, language,
          description, cover_url, cover_path, page_count, genres, tags, hardcover_book_id,
          hardcover_edition_id, possible_duplicate_of, approved_at, created_at, updated_at;

-- name: list_book_files
SELECT id, book_id, format, original_name, storage_path, inbox_path, file_size, checksum,
       content_hash, created_at, updated_at
FROM book_files WHERE book_id = $1 ORDER BY created_at;

-- name: insert_book_file
INSERT INTO book_files (book_id, format, original_name, storage_path, inbox_path, file_size,
                        checksum, content_hash)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING id, book_id, format, original_name, storage_path, inbox_path, file_size, checksum,
          content_hash, created_at, updated_at;

-- name: list_candidates
SELECT id, book_id, source, raw_response, normalized, confidence, selected_fields
FROM book_metadata_candidates WHERE book_id = $1
ORDER BY (source = 'file') DESC, confidence DESC, source;

-- name: upsert_candidate
INSERT INTO book_metadata_candidates (book_id, source, raw_response, normalized, confidence)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (book_id, source) DO UPDATE
   SET raw_response = EXCLUDED.raw_response,
       normalized = EXCLUDED.normalized,
       confidence = EXCLUDED.confidence,
       selected_fields = '{}'
RETURNING id, book_id, source, raw_response, normalized, confidence, selected_fields;
