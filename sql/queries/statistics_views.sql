-- name: stats_sessions
-- Reading sessions of a set of documents ($1): runs of page visits where each visit starts
-- less than $2 seconds after the previous one ended. `seconds` is the time spent on pages
-- (the sum of the visits), so a book's total equals the sum of its sessions.
WITH visits AS (
    SELECT v.start_time, v.page, v.duration, v.total_pages,
           v.start_time - lag(v.start_time + v.duration)
               OVER (ORDER BY v.start_time, v.page) AS gap
    FROM reading_page_visits v
    WHERE v.stat_book IN (SELECT b.id FROM reading_stat_books b WHERE b.document = ANY ($1::text[]))
),
numbered AS (
    SELECT *,
           sum(CASE WHEN gap IS NULL OR gap >= $2::float8 THEN 1 ELSE 0 END)
               OVER (ORDER BY start_time, page) AS session
    FROM visits
)
SELECT session,
       to_timestamp(min(start_time)) AS started_at,
       to_timestamp(max(start_time + duration)) AS ended_at,
       sum(duration)::bigint AS seconds,
       count(*)::integer AS visits,
       count(DISTINCT page)::integer AS pages,
       (array_agg(least(page::float8 / nullif(total_pages, 0), 1) ORDER BY start_time, page))[1]
           AS start_fraction,
       (array_agg(least(page::float8 / nullif(total_pages, 0), 1)
                   ORDER BY start_time DESC, page DESC))[1]
           AS end_fraction,
       (array_agg(total_pages ORDER BY start_time DESC, page DESC))[1] AS total_pages
FROM numbered
GROUP BY session
ORDER BY session;

-- name: stats_overall_pace
-- Seconds per page visit over everything read ($1: only quarter hours from this moment on, or
-- all).
SELECT sum(seconds)::float8 / nullif(sum(visits), 0)
FROM reading_stat_quarters
WHERE $1::timestamptz IS NULL OR quarter >= $1;

-- name: stats_documents
-- Every document with statistics, with its book when linked: the list `shelver stats` prints.
SELECT s.document, s.title AS stat_title, s.authors AS stat_authors, s.pages AS stat_pages,
       link.book_id, b.title, b.author,
       s.seconds, s.visits, s.first_read, s.last_read
FROM reading_stat_books s
LEFT JOIN LATERAL reading_document_book(s.document) link ON true
LEFT JOIN books b ON b.id = link.book_id
ORDER BY s.last_read DESC NULLS LAST, s.document;

-- name: stats_stat_book
-- The statistics plugin's own title and authors of a document (for books not in the library).
SELECT document, title, authors, pages FROM reading_stat_books WHERE document = ANY ($1::text[])
ORDER BY last_open DESC NULLS LAST
LIMIT 1;

-- name: stats_daily_seconds
-- Seconds read per local day ($2: the local offset from UTC) from day $1 on (from the quarter
-- hours: whole quarters fall on one local day in every time zone).
SELECT ((q.quarter AT TIME ZONE 'UTC') + $2::interval)::date AS day,
       sum(q.seconds)::bigint AS seconds
FROM reading_stat_quarters q
WHERE q.quarter >= ($1::date - $2::interval) AT TIME ZONE 'UTC'
GROUP BY 1
ORDER BY 1;

-- name: stats_reading_days
-- The local days with reading from day $2 to day $3 (inclusive), from the statistics or (for
-- KoSync-only books) position updates; $1 is the local offset from UTC.
SELECT day FROM (
    SELECT ((q.quarter AT TIME ZONE 'UTC') + $1::interval)::date AS day
    FROM reading_stat_quarters q
    WHERE q.quarter >= ($2::date - $1::interval) AT TIME ZONE 'UTC'
      AND q.quarter < ($3::date + 1 - $1::interval) AT TIME ZONE 'UTC'
    UNION
    SELECT ((h.created_at AT TIME ZONE 'UTC') + $1::interval)::date
    FROM reading_progress_history h
    WHERE h.created_at >= ($2::date - $1::interval) AT TIME ZONE 'UTC'
      AND h.created_at < ($3::date + 1 - $1::interval) AT TIME ZONE 'UTC'
) days;

-- name: stats_finished_books
-- When each book (or unlinked document) was first seen at >= 95 %: in the statistics (a page
-- visit at or past 95 % of the pages) or in the KoSync history, whichever came first.
WITH per_document AS (
    SELECT s.document, s.finished_at
    FROM reading_stat_books s
    WHERE s.finished_at IS NOT NULL
    UNION ALL
    SELECT h.document, min(h.created_at)
    FROM reading_progress_history h
    WHERE h.percentage >= reading_finished_at()
    GROUP BY h.document
)
SELECT coalesce(link.book_id::text, d.document) AS book, min(d.finished_at) AS finished_at
FROM per_document d
LEFT JOIN LATERAL reading_document_book(d.document) link ON true
GROUP BY 1;

-- name: stats_book_dates
-- First and last read and when it was finished, per book, from the statistics ($1: only
-- these books, or all when NULL). For Hardcover's started and finished dates.
WITH per_document AS (
    SELECT s.document, s.first_read, s.finished_at
    FROM reading_stat_books s
    WHERE s.visits > 0
)
SELECT link.book_id, min(d.first_read) AS first_read, min(d.finished_at) AS finished_at
FROM per_document d
CROSS JOIN LATERAL reading_document_book(d.document) link
WHERE $1::uuid[] IS NULL OR link.book_id = ANY ($1)
GROUP BY link.book_id;

-- name: stats_pages_read
-- How many different pages of a set of documents ($1) were visited.
SELECT count(DISTINCT (v.page, v.total_pages))
FROM reading_page_visits v
WHERE v.stat_book IN (SELECT b.id FROM reading_stat_books b WHERE b.document = ANY ($1::text[]));
