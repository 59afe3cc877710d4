-- Metadata fetching: which books to fetch, their candidates per provider, the visible status.

-- name: fetching_inbox_book_ids
SELECT id FROM books WHERE status = 'inbox' ORDER BY created_at, id;

-- name: fetching_books
-- The books to fetch with what their file says (the `file` candidate), when there is one.
SELECT b.id, b.status, b.title, b.author, b.isbn_10, b.isbn_13, b.publisher, b.published_year,
       b.language, b.description, b.cover_url, b.cover_path, b.page_count, b.genres, b.tags,
       b.hardcover_book_id, b.hardcover_edition_id, b.possible_duplicate_of, b.approved_at,
       b.created_at, b.updated_at,
       (SELECT c.normalized FROM book_metadata_candidates c
         WHERE c.book_id = b.id AND c.source = 'file') AS file_fields
FROM books b WHERE b.id = ANY($1::uuid[])
ORDER BY b.created_at, b.id;

-- name: fetching_delete_provider_candidates
-- A provider's candidates are named `provider`, `provider#2`, `provider#3`...
DELETE FROM book_metadata_candidates
WHERE book_id = $1 AND (source = $2 OR left(source, length($2) + 1) = $2 || '#');

-- name: fetching_insert_candidate
INSERT INTO book_metadata_candidates (book_id, source, raw_response, normalized, confidence)
VALUES ($1, $2, $3, $4, $5)
RETURNING id, book_id, source, raw_response, normalized, confidence, selected_fields;

-- name: fetching_upsert_status
INSERT INTO fetch_status (book_id, source, state, message, candidates, updated_at)
VALUES ($1, $2, $3, $4, $5, now())
ON CONFLICT (book_id, source) DO UPDATE
   SET state = EXCLUDED.state, message = EXCLUDED.message,
       candidates = EXCLUDED.candidates, updated_at = now();

-- name: fetching_statuses_of_book
SELECT book_id, source, state, message, candidates, updated_at
FROM fetch_status WHERE book_id = $1 ORDER BY source;

-- name: fetching_failed_statuses
-- Every (book, provider) whose last fetch failed: what a "retry failed" action fetches again.
SELECT book_id, source, state, message, candidates, updated_at
FROM fetch_status WHERE state = 'failed' ORDER BY updated_at, book_id, source;

-- name: fetching_move_to_review
-- A fetched inbox book goes to review whatever the providers found: candidates to compare, or
-- none (the reviewer approves the file's values as they are, or searches by hand). Only a book
-- with nothing found *and* a failed provider waits in the inbox, to be fetched again.
UPDATE books SET status = 'review'
WHERE id = $1 AND status = 'inbox'
  AND (EXISTS (SELECT 1 FROM book_metadata_candidates c
                WHERE c.book_id = $1 AND c.source <> 'file')
       OR NOT EXISTS (SELECT 1 FROM fetch_status s WHERE s.book_id = $1 AND s.state = 'failed'))
RETURNING id;

-- name: fetching_sealed_token
-- The newest stored token of a service (`hardcover`, `google_books`), still sealed.
SELECT password_hash FROM service_credentials
WHERE service = $1
ORDER BY coalesce(updated_at, created_at) DESC
LIMIT 1;

-- name: fetching_lock_book_source
-- Serialises two fetches of one (book, provider) so their replacements cannot collide.
SELECT pg_advisory_xact_lock(hashtextextended($1::uuid::text || '/' || $2::text, 0));
