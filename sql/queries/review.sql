-- Review: approving a book's chosen metadata and walking the review queue.

-- name: review_write_book
-- Writes the merged fields (current values overlaid with the chosen ones) and files the book.
UPDATE books
   SET title = $2, author = $3, isbn_10 = $4, isbn_13 = $5, publisher = $6,
       published_year = $7, language = $8, description = $9, cover_url = $10,
       page_count = $11, genres = $12, tags = $13,
       hardcover_book_id = coalesce($14, hardcover_book_id),
       hardcover_edition_id = CASE WHEN $14 IS NULL THEN hardcover_edition_id ELSE $15 END,
       possible_duplicate_of = NULL,
       status = 'organized', approved_at = now()
 WHERE id = $1
RETURNING id, status, title, author, isbn_10, isbn_13, publisher, published_year, language,
          description, cover_url, cover_path, page_count, genres, tags, hardcover_book_id,
          hardcover_edition_id, possible_duplicate_of, approved_at, created_at, updated_at;

-- name: review_clear_selected_fields
UPDATE book_metadata_candidates SET selected_fields = '{}' WHERE book_id = $1;

-- name: review_set_selected_fields
UPDATE book_metadata_candidates SET selected_fields = $3
 WHERE id = $1 AND book_id = $2
RETURNING id;

-- name: review_next_in_queue
-- The review queue runs oldest first; $1 is the book just handled (NULL: the start).
SELECT b.id FROM books b
 WHERE b.status = 'review'
   AND ($1::uuid IS NULL OR b.id <> $1)
   AND ($1::uuid IS NULL
        OR NOT EXISTS (SELECT 1 FROM books a WHERE a.id = $1)
        OR (b.created_at, b.id) > (SELECT a.created_at, a.id FROM books a WHERE a.id = $1))
 ORDER BY b.created_at, b.id
 LIMIT 1;

-- name: review_first_in_queue_except
SELECT id FROM books
 WHERE status = 'review' AND ($1::uuid IS NULL OR id <> $1)
 ORDER BY created_at, id
 LIMIT 1;

-- name: review_take_cover
-- A replacement without a cover of its own keeps the replaced book's.
UPDATE books SET cover_path = (SELECT cover_path FROM books WHERE id = $2)
 WHERE id = $1 AND cover_path IS NULL;

-- name: review_delete_replaced_book
DELETE FROM books WHERE id = $1;
