-- Books a reviewer rejected (or deleted from the library): the row, its files and candidates as
-- they were, and where each file went in rejected/. Nothing is lost: `u` (undo) and a later
-- restore put the book back exactly as it was. No foreign key: the book row is gone.
CREATE TABLE rejected_books (
    book_id     uuid PRIMARY KEY,
    title       text,
    author      text,
    reason      text NOT NULL,
    book        jsonb NOT NULL,
    files       jsonb NOT NULL,
    candidates  jsonb NOT NULL,
    moved_to    jsonb NOT NULL,
    rejected_at timestamptz NOT NULL DEFAULT now()
);
