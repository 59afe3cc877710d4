-- name: hardcover_sync_books
-- Organized books with what a Hardcover sync needs: ISBNs, the stored match, the newest reading
-- position of any of the book's documents, and what was last sent ($1: only these books;
-- $2: also books no device has reported on, which have nothing to push yet; $3: only the
-- positions these KoSync logins wrote, the Hardcover account owner's, or all when NULL).
SELECT b.id, b.title, b.isbn_13, b.isbn_10, b.hardcover_book_id, b.hardcover_edition_id,
       pos.percentage, pos.updated_at AS read_at,
       log.hardcover_user_book_id, log.hardcover_read_id, log.last_status, log.last_progress,
       log.last_rating
FROM books b
LEFT JOIN LATERAL (
    SELECT rp.percentage, rp.updated_at
    FROM reading_progress rp
    LEFT JOIN reading_progress_logins o ON o.progress_id = rp.id
    WHERE rp.document IN (SELECT reading_book_documents(b.id))
      AND ($3::text[] IS NULL OR o.login = ANY ($3::text[]))
    ORDER BY rp.updated_at DESC
    LIMIT 1
) pos ON true
LEFT JOIN hardcover_sync_log log ON log.book_id = b.id
WHERE b.status = 'organized'
  AND ($1::uuid[] IS NULL OR b.id = ANY ($1))
  AND (
      $2::boolean
      OR b.id IN (
          SELECT link.book_id
          FROM reading_progress rp
          LEFT JOIN reading_progress_logins o ON o.progress_id = rp.id
          CROSS JOIN LATERAL reading_document_book(rp.document) link
          WHERE $3::text[] IS NULL OR o.login = ANY ($3::text[])
      )
  )
ORDER BY b.title NULLS LAST, b.id;

-- name: hardcover_set_match
UPDATE books SET hardcover_book_id = $2, hardcover_edition_id = $3 WHERE id = $1;

-- name: hardcover_save_log
-- What was last sent for a book (one row per book).
INSERT INTO hardcover_sync_log
    (book_id, hardcover_user_book_id, hardcover_read_id, last_status, last_progress,
     last_rating, last_synced_at)
VALUES ($1, $2, $3, $4, $5, $6, now())
ON CONFLICT (book_id) DO UPDATE SET
    hardcover_user_book_id = EXCLUDED.hardcover_user_book_id,
    hardcover_read_id = EXCLUDED.hardcover_read_id,
    last_status = EXCLUDED.last_status,
    last_progress = EXCLUDED.last_progress,
    last_rating = EXCLUDED.last_rating,
    last_synced_at = EXCLUDED.last_synced_at;

-- name: hardcover_record_outcome
INSERT INTO hardcover_sync_outcomes (book_id, outcome, detail, recorded_at)
VALUES ($1, $2, $3, now())
ON CONFLICT (book_id) DO UPDATE SET
    outcome = EXCLUDED.outcome, detail = EXCLUDED.detail, recorded_at = EXCLUDED.recorded_at;

-- name: hardcover_sync_view
-- One line per organized book for a sync log view: the match, what was last sent, and the
-- outcome of the last attempt with its reason.
SELECT b.id AS book_id, b.title, b.author, b.hardcover_book_id, b.hardcover_edition_id,
       log.last_status, log.last_progress, log.last_synced_at,
       o.outcome, o.detail, o.recorded_at
FROM books b
LEFT JOIN hardcover_sync_log log ON log.book_id = b.id
LEFT JOIN hardcover_sync_outcomes o ON o.book_id = b.id
WHERE b.status = 'organized'
ORDER BY o.recorded_at DESC NULLS LAST, b.title NULLS LAST, b.id
LIMIT $1;
