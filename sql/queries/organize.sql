-- Organize: the move journal (data/move_journal.py) and the book_files rows it updates.

-- name: organize_record_operation
INSERT INTO organize_operations (id, finisher, payload) VALUES ($1, $2, $3::text::jsonb);

-- name: organize_commit_operation
UPDATE organize_operations SET committed = true WHERE id = $1;

-- name: organize_pending_operations
SELECT id, finisher, payload, committed, created_at
FROM organize_operations ORDER BY created_at, id;

-- name: organize_forget_operation
-- Its moves go with it (ON DELETE CASCADE).
DELETE FROM organize_operations WHERE id = $1;

-- name: organize_record_move
INSERT INTO organize_moves (id, book_file_id, source_path, target_path, temp_path, sha256,
                            file_size, operation_id, lands_in, sidecar_text)
VALUES ($7, $1, $2, $3, $4, $5, $6, $8, $9, $10)
RETURNING id, operation_id, book_file_id, source_path, target_path, temp_path, sha256,
          file_size, lands_in, sidecar_text;

-- name: organize_moves_of_operation
SELECT id, operation_id, book_file_id, source_path, target_path, temp_path, sha256, file_size,
       lands_in, sidecar_text
FROM organize_moves WHERE operation_id = $1 ORDER BY created_at, id;

-- name: organize_point_file_at
-- The file now lives at $2 (library or rejected/) and no longer in the inbox.
UPDATE book_files SET storage_path = $2, inbox_path = NULL WHERE id = $1;

-- name: organize_point_inbox
-- The file is back in the inbox at $2.
UPDATE book_files SET inbox_path = $2, storage_path = NULL WHERE id = $1;

-- name: organize_path_claimed
-- Is $1 the target of a pending move or the home of a known file?
SELECT EXISTS (SELECT 1 FROM organize_moves WHERE target_path = $1)
    OR EXISTS (SELECT 1 FROM book_files WHERE storage_path = $1);

-- name: organize_lock_move
-- Held (by the session) while an operation runs, so recovery in another process leaves it
-- alone; a killed process's session ends and releases it. $1 is the operation's id.
SELECT pg_advisory_lock(hashtextextended('shelver-move/' || $1::uuid::text, 0));

-- name: organize_try_lock_move
SELECT pg_try_advisory_lock(hashtextextended('shelver-move/' || $1::uuid::text, 0));

-- name: organize_unlock_move
SELECT pg_advisory_unlock(hashtextextended('shelver-move/' || $1::uuid::text, 0));

-- name: organize_sample_files
-- A few files of books in the library (the newest first), to show where a path template
-- would put them.
SELECT b.title, b.author, b.published_year, b.language, b.publisher, b.isbn_13, b.isbn_10,
       bf.original_name, bf.format
FROM books b
JOIN LATERAL (SELECT original_name, format FROM book_files f WHERE f.book_id = b.id
              ORDER BY f.created_at LIMIT 1) bf ON true
WHERE b.status = 'organized'
ORDER BY b.created_at DESC, b.id
LIMIT $1;
