-- Sample data for `shelver demo`: plain inserts with explicit timestamps so the sample looks
-- lived-in (arrivals spread over weeks, positions synced minutes to months ago).

-- name: demo_lock
-- Two `shelver demo --home X` started together must not both fill the database.
SELECT pg_advisory_xact_lock(7526369126244206);

-- name: demo_book_count
SELECT count(*) FROM books;

-- name: demo_insert_book
INSERT INTO books (status, title, author, isbn_10, isbn_13, publisher, published_year, language,
                   description, cover_url, page_count, genres, tags, hardcover_book_id,
                   hardcover_edition_id, approved_at, created_at, updated_at)
VALUES ($1::book_status, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
        $17, $17)
RETURNING id;

-- name: demo_mark_duplicate
UPDATE books SET possible_duplicate_of = $2 WHERE id = $1;

-- name: demo_insert_file
INSERT INTO book_files (book_id, format, original_name, storage_path, inbox_path, file_size,
                        checksum, content_hash, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9);

-- name: demo_insert_candidate
INSERT INTO book_metadata_candidates (book_id, source, raw_response, normalized, confidence,
                                      selected_fields)
VALUES ($1, $2, $3, $4, $5, $6);

-- name: demo_insert_progress
-- A sample position of the KoSync login $8.
WITH inserted AS (
    INSERT INTO reading_progress (document, device, device_id, progress, percentage,
                                  "timestamp", raw_payload, updated_at)
    VALUES ($1, $2, $3, $4, $5, $6::bigint, $7, to_timestamp($6::bigint))
    -- A device may already have reported this document: its real position wins.
    ON CONFLICT (document, device) DO NOTHING
    RETURNING id, document, device
)
INSERT INTO reading_progress_logins (progress_id, login, document, device)
SELECT id, $8, document, device FROM inserted;

-- name: demo_insert_progress_history
INSERT INTO reading_progress_history (document, device, progress, percentage, "timestamp",
                                      created_at)
VALUES ($1, $2, $3, $4, $5::bigint, to_timestamp($5::bigint));

-- name: demo_insert_credential
INSERT INTO service_credentials (service, username, password_hash, created_at)
VALUES ($1, $2, $3, $4)
ON CONFLICT (service, username) DO NOTHING;

-- name: demo_insert_sync_log
INSERT INTO hardcover_sync_log (book_id, hardcover_user_book_id, hardcover_read_id, last_status,
                                last_progress, last_rating, last_synced_at)
VALUES ($1, $2, $3, $4, $5, $6, $7);
