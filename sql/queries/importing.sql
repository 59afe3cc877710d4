-- Queries of the import pipeline (data/importing). Batches travel as parallel arrays that
-- unnest() turns back into rows, so one statement writes a whole batch.

-- name: importing_known_checksums
SELECT checksum, book_id FROM book_files WHERE checksum = ANY($1::text[]);

-- name: importing_known_inbox_paths
SELECT inbox_path FROM book_files WHERE inbox_path = ANY($1::text[]);

-- name: importing_duplicate_candidates
-- For each new book ($1 ordinal, $2 ISBN-13, $3 title): existing books with the same ISBN-13
-- or a trigram-similar title (the % operator uses books_title_trgm_idx). Python then applies
-- the exact rule (authors, volume numbers).
SELECT q.n, m.id, m.title, m.author, m.isbn_13
FROM unnest($1::int[], $2::text[], $3::text[]) AS q(n, isbn_13, title)
CROSS JOIN LATERAL (
    (SELECT b.id, b.title, b.author, b.isbn_13, 2.0::real AS score
       FROM books b
      WHERE q.isbn_13 IS NOT NULL AND b.isbn_13 = q.isbn_13
      ORDER BY b.created_at LIMIT 3)
    UNION ALL
    (SELECT b.id, b.title, b.author, b.isbn_13,
            similarity(shelver_fold(b.title), shelver_fold(q.title)) AS score
       FROM books b
      WHERE q.title IS NOT NULL AND shelver_fold(b.title) % shelver_fold(q.title)
      ORDER BY score DESC, b.created_at LIMIT 10)
) m
ORDER BY q.n, m.score DESC;

-- name: importing_insert_books
INSERT INTO books (id, status, title, author, isbn_10, isbn_13, publisher, published_year,
                   language, description, cover_path, page_count, genres, possible_duplicate_of)
SELECT r.id, 'inbox', r.title, r.author, r.isbn_10, r.isbn_13, r.publisher, r.published_year,
       r.language, r.description, r.cover_path, r.page_count,
       ARRAY(SELECT jsonb_array_elements_text(r.genres::jsonb)), r.possible_duplicate_of
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
            $7::int[], $8::text[], $9::text[], $10::text[], $11::int[], $12::text[],
            $13::uuid[])
     AS r(id, title, author, isbn_10, isbn_13, publisher, published_year, language,
          description, cover_path, page_count, genres, possible_duplicate_of);

-- name: importing_insert_files
-- A checksum that another import committed meanwhile is skipped (the unique index
-- book_files_checksum_key decides); the ids returned are the books that got their file.
INSERT INTO book_files (book_id, format, original_name, inbox_path, file_size, checksum,
                        content_hash)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[],
                     $7::text[])
ON CONFLICT (checksum) WHERE checksum IS NOT NULL DO NOTHING
RETURNING book_id;

-- name: importing_insert_file_candidates
INSERT INTO book_metadata_candidates (book_id, source, raw_response, normalized, confidence)
SELECT r.book_id, 'file', r.raw::jsonb, r.normalized::jsonb, 1
FROM unnest($1::uuid[], $2::text[], $3::text[]) AS r(book_id, raw, normalized)
ON CONFLICT (book_id, source) DO UPDATE
   SET raw_response = EXCLUDED.raw_response,
       normalized = EXCLUDED.normalized,
       confidence = EXCLUDED.confidence,
       selected_fields = '{}';

-- name: importing_delete_books
DELETE FROM books WHERE id = ANY($1::uuid[]);

-- name: importing_book_for_rejection
-- The inbox book and its files, locked so a concurrent review cannot approve it meanwhile.
SELECT b.id, b.status, b.title, f.id AS file_id, f.original_name, f.inbox_path, f.storage_path
FROM books b LEFT JOIN book_files f ON f.book_id = b.id
WHERE b.id = $1
FOR UPDATE OF b;

-- name: importing_delete_inbox_book
DELETE FROM books WHERE id = $1 AND status = 'inbox';

-- name: importing_insert_original_names
-- The exact bytes of names that are not valid UTF-8 ($1: new books, each with one file).
INSERT INTO book_file_original_names (book_file_id, name)
SELECT f.id, n.name
FROM unnest($1::uuid[], $2::bytea[]) AS n (book_id, name)
JOIN book_files f ON f.book_id = n.book_id
ON CONFLICT (book_file_id) DO NOTHING;
