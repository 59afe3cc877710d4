-- Organize: the intent journal of file moves and the book_files rows they update.

-- name: organize_record_move
INSERT INTO organize_moves (id, book_file_id, source_path, target_path, temp_path, sha256,
                            file_size)
VALUES ($7, $1, $2, $3, $4, $5, $6)
RETURNING id, book_file_id, source_path, target_path, temp_path, sha256, file_size, created_at;

-- name: organize_pending_moves
SELECT id, book_file_id, source_path, target_path, temp_path, sha256, file_size, created_at
FROM organize_moves ORDER BY created_at, id;

-- name: organize_forget_move
DELETE FROM organize_moves WHERE id = $1;

-- name: organize_point_file_at
-- The file now lives at $2 and no longer in the inbox.
UPDATE book_files SET storage_path = $2, inbox_path = NULL WHERE id = $1;

-- name: organize_path_claimed
-- Is $1 the target of a pending move or the home of a known file?
SELECT EXISTS (SELECT 1 FROM organize_moves WHERE target_path = $1)
    OR EXISTS (SELECT 1 FROM book_files WHERE storage_path = $1);

-- name: organize_lock_move
-- Held (by the session) while a move runs, so recovery in another process leaves it alone;
-- a killed process's session ends and releases it.
SELECT pg_advisory_lock(hashtextextended('shelver-move/' || $1::uuid::text, 0));

-- name: organize_try_lock_move
SELECT pg_try_advisory_lock(hashtextextended('shelver-move/' || $1::uuid::text, 0));

-- name: organize_unlock_move
SELECT pg_advisory_unlock(hashtextextended('shelver-move/' || $1::uuid::text, 0));
