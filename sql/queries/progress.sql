-- name: list_current_progress
-- Current positions, newest first, with the book whose file matches the document by
-- content hash (KOReader's default) when there is one.
SELECT rp.document, rp.device, rp.percentage, rp.progress, rp."timestamp", rp.updated_at,
       b.id AS book_id, b.title, b.author
FROM reading_progress rp
LEFT JOIN LATERAL (
    SELECT bf.book_id FROM book_files bf WHERE bf.content_hash = rp.document LIMIT 1
) match ON true
LEFT JOIN books b ON b.id = match.book_id
ORDER BY rp.updated_at DESC
LIMIT $1;

-- name: count_progress_documents
SELECT count(DISTINCT document) FROM reading_progress;
