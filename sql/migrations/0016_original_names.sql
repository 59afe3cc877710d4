-- A file name is any byte string, but book_files.original_name is text: a name that is not
-- valid UTF-8 is shown there with U+FFFD for the odd bytes, and kept exactly here.
CREATE TABLE book_file_original_names (
    book_file_id uuid PRIMARY KEY REFERENCES book_files (id) ON DELETE CASCADE,
    name         bytea NOT NULL
);
