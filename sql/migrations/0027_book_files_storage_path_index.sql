-- Filing asks "is this name taken?" (organize_path_claimed) for every name it tries, and the
-- library and OPDS find files by path: an index on book_files.storage_path keeps that a lookup
-- instead of a scan of every file (checked with EXPLAIN in tests/test_organize.py).
CREATE INDEX IF NOT EXISTS book_files_storage_path_idx ON book_files (storage_path);
