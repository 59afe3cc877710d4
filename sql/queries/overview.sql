-- Read-only queries behind the app shell's screens (counts, first pages, settings facts).

-- name: overview_review_queue
-- The review queue in the order it is worked through: oldest arrival first.
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
WHERE b.status = 'review'
ORDER BY b.created_at, b.id
LIMIT $1;

-- name: overview_database_counts
SELECT (SELECT count(*) FROM books)                                AS books,
       (SELECT count(*) FROM book_files)                           AS files,
       (SELECT count(*) FROM book_metadata_candidates
         WHERE source <> 'file')                                   AS candidates,
       (SELECT count(DISTINCT document) FROM reading_progress)     AS documents,
       (SELECT count(DISTINCT device) FROM reading_progress)       AS devices,
       (SELECT count(*) FROM reading_progress_history)             AS history_entries,
       (SELECT count(*) FROM api_keys)                             AS api_keys;
