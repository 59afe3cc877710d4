-- The move journal groups file moves into operations (see data/move_journal.py): an approval,
-- a rejection or an undo is one operation whose file moves and database writes finish together.
-- `finisher` names the data-layer function that writes the database once the files are in
-- place, `payload` its input (stored before anything moves); `committed` marks the point after
-- which recovery only goes forward.
CREATE TABLE organize_operations (
    id         uuid PRIMARY KEY,
    finisher   text,
    payload    jsonb NOT NULL DEFAULT '{}',
    committed  boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE organize_moves
    ADD COLUMN operation_id uuid REFERENCES organize_operations (id) ON DELETE CASCADE,
    ADD COLUMN lands_in text NOT NULL DEFAULT 'storage' CHECK (lands_in IN ('storage', 'inbox')),
    ADD COLUMN sidecar_text text;

-- Moves journaled before operations existed become operations of their own.
INSERT INTO organize_operations (id, created_at) SELECT id, created_at FROM organize_moves;
UPDATE organize_moves SET operation_id = id;
ALTER TABLE organize_moves ALTER COLUMN operation_id SET NOT NULL;
CREATE INDEX organize_moves_operation_idx ON organize_moves (operation_id);
