-- Review decisions: the lock every decision takes, and what rejection and undo write.

-- name: review_try_lock_decision
-- Held by a decision (approve, reject, undo...) for its whole run, file moves included.
SELECT pg_try_advisory_lock(hashtextextended('shelver-decide/' || $1::uuid::text, 0));

-- name: review_unlock_decision
SELECT pg_advisory_unlock(hashtextextended('shelver-decide/' || $1::uuid::text, 0));

-- name: review_record_rejection
INSERT INTO rejected_books (book_id, title, author, reason, book, files, candidates, moved_to)
SELECT b.id, b.title, b.author, $2, to_jsonb(b) - 'search_vector',
       coalesce((SELECT jsonb_agg(to_jsonb(f)) FROM book_files f WHERE f.book_id = b.id), '[]'),
       coalesce((SELECT jsonb_agg(to_jsonb(c)) FROM book_metadata_candidates c
                  WHERE c.book_id = b.id), '[]'),
       $3
FROM books b WHERE b.id = $1
ON CONFLICT (book_id) DO UPDATE
   SET title = EXCLUDED.title, author = EXCLUDED.author, reason = EXCLUDED.reason,
       book = EXCLUDED.book, files = EXCLUDED.files, candidates = EXCLUDED.candidates,
       moved_to = EXCLUDED.moved_to, rejected_at = now();

-- name: review_delete_book
DELETE FROM books WHERE id = $1;

-- name: review_rejection
SELECT book_id, title, reason, book, files, candidates, moved_to
FROM rejected_books WHERE book_id = $1;

-- name: review_restore_rejected
-- The rejected book, its files (as they were before the move) and candidates, back again.
WITH snapshot AS (SELECT * FROM rejected_books WHERE book_id = $1),
     book AS (
         INSERT INTO books
         SELECT (jsonb_populate_record(NULL::books, s.book)).* FROM snapshot s
         RETURNING id),
     files AS (
         INSERT INTO book_files
         SELECT (jsonb_populate_recordset(NULL::book_files, s.files)).* FROM snapshot s, book
         RETURNING id),
     candidates AS (
         INSERT INTO book_metadata_candidates
         SELECT (jsonb_populate_recordset(NULL::book_metadata_candidates, s.candidates)).*
         FROM snapshot s, book
         RETURNING id)
SELECT (SELECT count(*) FROM book) AS books, (SELECT count(*) FROM files) AS files,
       (SELECT count(*) FROM candidates) AS candidates;

-- name: review_restore_added_format
-- Undo of "add as another format": the book row and its candidates from the snapshot kept at
-- approval, waiting for review again (its files are given back by review_move_file_to_book).
WITH snapshot AS (SELECT * FROM rejected_books WHERE book_id = $1),
     book AS (
         INSERT INTO books
         SELECT (jsonb_populate_record(
                    NULL::books, s.book || '{"status": "review", "approved_at": null}')).*
         FROM snapshot s
         RETURNING id),
     candidates AS (
         INSERT INTO book_metadata_candidates
         SELECT (jsonb_populate_recordset(NULL::book_metadata_candidates, s.candidates)).*
         FROM snapshot s, book
         RETURNING id)
SELECT (SELECT count(*) FROM book) AS books, (SELECT count(*) FROM candidates) AS candidates;

-- name: review_forget_rejection
DELETE FROM rejected_books WHERE book_id = $1;

-- name: review_place_file
-- Where a file is after a move back (the inbox, or its old place in the library).
UPDATE book_files SET inbox_path = $2, storage_path = $3 WHERE id = $1;

-- name: review_restore_fields
-- Undo of an approval (or "back to review"): the values as they were, waiting for review.
UPDATE books
   SET title = $2, author = $3, isbn_10 = $4, isbn_13 = $5, publisher = $6,
       published_year = $7, language = $8, description = $9, cover_url = $10,
       page_count = $11, genres = $12, tags = $13,
       hardcover_book_id = $14, hardcover_edition_id = $15, possible_duplicate_of = $16,
       status = 'review', approved_at = NULL
 WHERE id = $1
RETURNING id, status, title, author, isbn_10, isbn_13, publisher, published_year, language,
          description, cover_url, cover_path, page_count, genres, tags, hardcover_book_id,
          hardcover_edition_id, possible_duplicate_of, approved_at, created_at, updated_at;

-- name: review_back_to_review
UPDATE books SET status = 'review', approved_at = NULL WHERE id = $1
RETURNING id, status, title, author, isbn_10, isbn_13, publisher, published_year, language,
          description, cover_url, cover_path, page_count, genres, tags, hardcover_book_id,
          hardcover_edition_id, possible_duplicate_of, approved_at, created_at, updated_at;

-- name: review_move_file_to_book
-- "Add as another format": the file joins the existing book (and its undo: it comes back).
UPDATE book_files SET book_id = $2 WHERE id = $1;
