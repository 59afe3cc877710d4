-- Fetching and organizing: two bookkeeping tables of their own (no new columns on the
-- documented tables).

-- The visible outcome of the last metadata fetch of each (book, provider): what the user sees
-- and retries. `state` is one of ok / empty / failed / skipped.
CREATE TABLE fetch_status (
    book_id    uuid NOT NULL REFERENCES books (id) ON DELETE CASCADE,
    source     text NOT NULL,
    state      text NOT NULL CHECK (state IN ('ok', 'empty', 'failed', 'skipped')),
    message    text NOT NULL DEFAULT '',
    candidates integer NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (book_id, source)
);

CREATE INDEX fetch_status_state_idx ON fetch_status (state) WHERE state = 'failed';

-- The intent journal of file moves (inbox -> library, library -> rejected). A row is written
-- and committed before the file is touched and deleted in the same transaction that points
-- book_files at the new place, so a row that survives a crash names a move to finish or undo.
-- No foreign key on purpose: the journal must outlive anything that happens to the rows.
CREATE TABLE organize_moves (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    book_file_id uuid NOT NULL,
    source_path  text NOT NULL,
    target_path  text NOT NULL,
    temp_path    text NOT NULL,
    sha256       text NOT NULL,
    file_size    bigint NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Two pending moves never aim at one target.
CREATE UNIQUE INDEX organize_moves_target_key ON organize_moves (target_path);
