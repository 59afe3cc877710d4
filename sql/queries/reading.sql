-- name: reading_current_positions
-- The current position of each (document, device) with its book when linked (see the function
-- reading_document_book in 0003_reading.sql), the KoSync login that wrote it (NULL: none),
-- its state (finished at >= 95 %, paused after 30 days without an update, else reading) and
-- the time KOReader's statistics saw it read. With $8 (and no login asked for), documents
-- known only from the statistics (no device synced a position) come too, as device
-- 'statistics' (data.reading.STATISTICS_DEVICE), where their last page visit left them.
-- Every filter is optional ($1 device, $2 book, $3 linked or not, $4 state, $6 only these
-- documents, $7 what this login sees: its own positions and those of the logins it shares
-- with); newest first.
SELECT *
FROM (
    SELECT rp.document, rp.device, rp.device_id, rp.percentage, rp.progress, rp."timestamp",
           rp.updated_at,
           CASE
               WHEN rp.percentage >= reading_finished_at() THEN 'finished'
               WHEN rp.updated_at < now() - reading_paused_after() THEN 'paused'
               ELSE 'reading'
           END AS state,
           link.book_id, link.link_method, b.title, b.author, o.login,
           s.seconds AS seconds_read
    FROM reading_progress rp
    LEFT JOIN reading_progress_logins o ON o.progress_id = rp.id
    LEFT JOIN LATERAL reading_document_book(rp.document) link ON true
    LEFT JOIN books b ON b.id = link.book_id
    LEFT JOIN reading_stat_books s ON s.document = rp.document AND s.visits > 0
    WHERE ($1::text IS NULL OR rp.device = $1)
      AND ($2::uuid IS NULL OR link.book_id = $2)
      AND ($3::boolean IS NULL OR (link.book_id IS NOT NULL) = $3)
      AND ($6::text[] IS NULL OR rp.document = ANY($6::text[]))
      AND ($7::text IS NULL OR o.login = ANY(kosync_login_group($7::text)))
    UNION ALL
    SELECT s.document, 'statistics', NULL, last.fraction, '', 0, s.last_read,
           CASE
               WHEN last.fraction >= reading_finished_at() THEN 'finished'
               WHEN s.last_read < now() - reading_paused_after() THEN 'paused'
               ELSE 'reading'
           END,
           link.book_id, link.link_method, b.title, b.author, NULL, s.seconds
    FROM reading_stat_books s
    CROSS JOIN LATERAL (
        SELECT round(least(v.page::numeric / nullif(v.total_pages, 0), 1), 4) AS fraction
        FROM reading_page_visits v
        WHERE v.stat_book = s.id
        ORDER BY v.start_time DESC, v.page DESC
        LIMIT 1
    ) last
    LEFT JOIN LATERAL reading_document_book(s.document) link ON true
    LEFT JOIN books b ON b.id = link.book_id
    WHERE s.visits > 0 AND last.fraction IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM reading_progress rp WHERE rp.document = s.document)
      AND $8::boolean AND $7::text IS NULL
      AND ($1::text IS NULL OR $1 = 'statistics')
      AND ($2::uuid IS NULL OR link.book_id = $2)
      AND ($3::boolean IS NULL OR (link.book_id IS NOT NULL) = $3)
      AND ($6::text[] IS NULL OR s.document = ANY($6::text[]))
) positions
WHERE ($4::text IS NULL OR positions.state = $4)
ORDER BY positions.updated_at DESC, positions.document, positions.device
LIMIT $5;

-- name: reading_devices
-- Every device that has reported a position, with how many documents it reads ($1: only the
-- devices of what this login sees, or all when NULL).
SELECT rp.device, count(*) AS documents, max(rp.updated_at) AS last_seen
FROM reading_progress rp
LEFT JOIN reading_progress_logins o ON o.progress_id = rp.id
WHERE $1::text IS NULL OR o.login = ANY(kosync_login_group($1::text))
GROUP BY rp.device
ORDER BY rp.device;

-- name: reading_logins
-- Every KoSync login that has positions, with the logins it shares them with.
SELECT o.login, count(*) AS positions, max(rp.updated_at) AS last_seen,
       kosync_login_group(o.login) AS sees
FROM reading_progress_logins o
JOIN reading_progress rp ON rp.id = o.progress_id
GROUP BY o.login
ORDER BY o.login;

-- name: reading_document_history
-- Every update of one document, oldest first ($3: only what this login sees, or all; an update's
-- login is its current row's, migration 0028).
SELECT h.document, h.device, h.progress, h.percentage, h."timestamp", h.created_at
FROM reading_progress_history h
WHERE h.document = $1
  AND ($3::text IS NULL OR EXISTS (
      SELECT 1 FROM reading_progress rp JOIN reading_progress_logins o ON o.progress_id = rp.id
      WHERE rp.document = h.document AND rp.device = h.device
        AND o.login = ANY(kosync_login_group($3::text))))
ORDER BY h.created_at, h."timestamp"
LIMIT $2;

-- name: reading_book_history
-- Every update of every document that belongs to a book, oldest first ($3: only what this
-- login sees, or all).
SELECT h.document, h.device, h.progress, h.percentage, h."timestamp", h.created_at
FROM reading_progress_history h
WHERE h.document IN (SELECT reading_book_documents($1))
  AND ($3::text IS NULL OR EXISTS (
      SELECT 1 FROM reading_progress rp JOIN reading_progress_logins o ON o.progress_id = rp.id
      WHERE rp.document = h.document AND rp.device = h.device
        AND o.login = ANY(kosync_login_group($3::text))))
ORDER BY h.created_at, h."timestamp"
LIMIT $2;

-- name: reading_document_book
-- The book a document belongs to and how it was found; no row when unlinked.
SELECT book_id, link_method FROM reading_document_book($1);

-- name: reading_link_document
-- Link a document to a book by hand (replacing an earlier hand-made link).
INSERT INTO reading_document_links (document, book_id)
VALUES ($1, $2)
ON CONFLICT (document) DO UPDATE SET book_id = EXCLUDED.book_id, created_at = now()
RETURNING document;

-- name: reading_unlink_document
-- Remove a hand-made link (automatic matches by digest stay).
DELETE FROM reading_document_links WHERE document = $1 RETURNING document;

-- name: reading_book_positions
-- The newest position of each book that has one (any linked document, any device), for
-- syncing reading state elsewhere. $1: only this book, or all when NULL; $2: only what these
-- logins wrote, or all when NULL.
SELECT DISTINCT ON (link.book_id)
       link.book_id, rp.document, rp.device, rp.percentage, rp."timestamp", rp.updated_at,
       o.login
FROM reading_progress rp
LEFT JOIN reading_progress_logins o ON o.progress_id = rp.id
CROSS JOIN LATERAL reading_document_book(rp.document) link
WHERE ($1::uuid IS NULL OR link.book_id = $1)
  AND ($2::text[] IS NULL OR o.login = ANY($2::text[]))
ORDER BY link.book_id, rp.updated_at DESC, rp.device;

-- name: reading_owner_logins
-- The library owner's logins: the first KoSync login (the one positions from before logins
-- were kept apart went to, migration 0025) and those sharing with it. NULL: no KoSync login.
SELECT kosync_login_group(username)
FROM service_credentials WHERE service = 'kosync'
ORDER BY created_at, username
LIMIT 1;
