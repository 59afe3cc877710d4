-- The Inbox screen's list: inbox books newest first with what the list shows beside each one
-- (its duplicate's title and the outcome of its last metadata fetch), optionally filtered.

-- name: inbox_page
-- $1: text to find in the title or author (case-insensitive, NULL for all); $2: page size.
-- strpos rather than LIKE so that % and _ in the user's text are plain characters.
SELECT b.id, b.title, b.author, b.created_at, b.possible_duplicate_of,
       d.title AS duplicate_title, d.author AS duplicate_author,
       coalesce(f.formats, '{}') AS formats,
       coalesce(f.file_size, 0) AS file_size,
       coalesce(s.states, '{}') AS fetch_states,
       coalesce(s.sources, '{}') AS fetch_sources,
       coalesce(s.messages, '{}') AS fetch_messages,
       coalesce(s.candidates, 0) AS fetched_candidates
FROM books b
LEFT JOIN books d ON d.id = b.possible_duplicate_of
LEFT JOIN LATERAL (
    SELECT array_agg(DISTINCT bf.format ORDER BY bf.format) AS formats,
           sum(bf.file_size)::bigint AS file_size
    FROM book_files bf WHERE bf.book_id = b.id
) f ON true
LEFT JOIN LATERAL (
    SELECT array_agg(fs.state ORDER BY fs.source) AS states,
           array_agg(fs.source ORDER BY fs.source) AS sources,
           array_agg(fs.message ORDER BY fs.source) AS messages,
           sum(fs.candidates)::integer AS candidates
    FROM fetch_status fs WHERE fs.book_id = b.id
) s ON true
WHERE b.status = 'inbox'
  AND ($1::text IS NULL
       OR strpos(lower(coalesce(b.title, '') || ' ' || coalesce(b.author, '')), lower($1)) > 0)
ORDER BY b.created_at DESC, b.id DESC
LIMIT $2;

-- name: inbox_count_matching
SELECT count(*) FROM books b
WHERE b.status = 'inbox'
  AND ($1::text IS NULL
       OR strpos(lower(coalesce(b.title, '') || ' ' || coalesce(b.author, '')), lower($1)) > 0);
