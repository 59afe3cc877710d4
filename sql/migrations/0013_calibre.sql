-- Coming from Calibre: which Calibre book became which shelver book, and the values shelver has
-- no column for. No new columns on the documented tables.

-- One row per Calibre book brought over, keyed by calibre's per-book uuid (stable across
-- renames and across copies of the library), so a second import adds only what is new.
CREATE TABLE calibre_books (
    calibre_uuid text PRIMARY KEY,
    library_id   text NOT NULL,
    calibre_id   integer NOT NULL,
    book_id      uuid NOT NULL REFERENCES books (id) ON DELETE CASCADE,
    imported_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX calibre_books_book_id_idx ON calibre_books (book_id);

-- A person's rating of a book, on Hardcover's scale (0.5 to 5 in halves, like
-- hardcover_sync_log.last_rating); `source` says where it came from ('calibre').
CREATE TABLE book_ratings (
    book_id    uuid PRIMARY KEY REFERENCES books (id) ON DELETE CASCADE,
    rating     numeric(3, 1) NOT NULL CHECK (rating > 0 AND rating <= 5),
    source     text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Named values without a column of their own: calibre's custom columns ('#mood'), identifiers
-- other than ISBN and Hardcover's ('identifier:goodreads'), a book's further languages.
CREATE TABLE book_extra_fields (
    book_id  uuid NOT NULL REFERENCES books (id) ON DELETE CASCADE,
    source   text NOT NULL,
    name     text NOT NULL,
    label    text NOT NULL,
    datatype text NOT NULL,
    value    jsonb NOT NULL,
    PRIMARY KEY (book_id, source, name)
);

-- Files used where they are (`shelver import-calibre --in-place`): shelver reads them but never
-- moves, renames or deletes them, whatever happens to their book.
CREATE TABLE book_files_in_place (
    book_file_id uuid PRIMARY KEY REFERENCES book_files (id) ON DELETE CASCADE,
    origin       text NOT NULL
);
