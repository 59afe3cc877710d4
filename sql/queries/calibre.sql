-- Queries of the Calibre import (data/calibre). Batches travel as parallel arrays.

-- name: calibre_known_books
-- The shelver book of each Calibre book already brought over.
SELECT calibre_uuid, book_id FROM calibre_books WHERE calibre_uuid = ANY($1::text[]);

-- name: calibre_known_checksums
SELECT checksum, book_id FROM book_files WHERE checksum = ANY($1::text[]);

-- name: calibre_insert_book
INSERT INTO books (id, status, title, author, isbn_10, isbn_13, publisher, published_year,
                   language, description, cover_url, page_count, genres, tags, cover_path,
                   hardcover_book_id, hardcover_edition_id, approved_at, created_at)
VALUES ($1, 'organized', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
        now(), coalesce($17, now()));

-- name: calibre_insert_files
-- Files of several books at once; with an origin ($9) they are also marked as used in place.
WITH inserted AS (
    INSERT INTO book_files (book_id, format, original_name, storage_path, file_size, checksum,
                            content_hash)
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bigint[],
                         $6::text[], $7::text[])
    RETURNING id
)
INSERT INTO book_files_in_place (book_file_id, origin)
SELECT id, $8 FROM inserted WHERE $8::text IS NOT NULL;

-- name: calibre_insert_extras
INSERT INTO book_extra_fields (book_id, source, name, label, datatype, value)
SELECT r.book_id, $1, r.name, r.label, r.datatype, r.value::jsonb
FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[])
     AS r(book_id, name, label, datatype, value)
ON CONFLICT (book_id, source, name) DO NOTHING;

-- name: calibre_insert_rating
INSERT INTO book_ratings (book_id, rating, source) VALUES ($1, $2, $3)
ON CONFLICT (book_id) DO NOTHING;

-- name: calibre_record_book
INSERT INTO calibre_books (calibre_uuid, library_id, calibre_id, book_id)
VALUES ($1, $2, $3, $4)
ON CONFLICT (calibre_uuid) DO UPDATE
   SET library_id = EXCLUDED.library_id, calibre_id = EXCLUDED.calibre_id,
       book_id = EXCLUDED.book_id;

-- name: calibre_extra_fields
SELECT source, name, label, datatype, value::text AS value FROM book_extra_fields
WHERE book_id = $1 ORDER BY source, name;

-- name: calibre_book_rating
SELECT rating FROM book_ratings WHERE book_id = $1;

-- name: in_place_file_ids
-- The files of book $1 that shelver must never move.
SELECT p.book_file_id FROM book_files_in_place p
JOIN book_files f ON f.id = p.book_file_id
WHERE f.book_id = $1;

-- name: calibre_try_lock_library
-- Held (by the session) while one import of Calibre library $1 runs.
SELECT pg_try_advisory_lock(hashtextextended('shelver-calibre/' || $1::text, 0));

-- name: calibre_unlock_library
SELECT pg_advisory_unlock(hashtextextended('shelver-calibre/' || $1::text, 0));

-- name: calibre_paths_claimed
-- Which of the paths $1 are the target of a pending move or the home of a known file (one
-- pass over each table for a whole batch).
SELECT p AS path FROM unnest($1::text[]) AS p
WHERE p IN (SELECT target_path FROM organize_moves)
   OR p IN (SELECT storage_path FROM book_files WHERE storage_path IS NOT NULL);
