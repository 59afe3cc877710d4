-- Reading statistics from KOReader's statistics plugin (statistics.sqlite3, synced through
-- shelver's WebDAV folder or imported with `shelver stats import`). New tables only.
--
-- Rows are keyed by the document's partial MD5 (KOReader's `book.md5`), the same id KoSync
-- uses, so they find their book through reading_document_book() like progress does, also when
-- the book is imported after its statistics arrived.

-- One row per document: the statistics plugin's book row (the newest one seen).
CREATE TABLE reading_stat_books (
    document         text PRIMARY KEY,
    title            text NOT NULL DEFAULT '',
    authors          text NOT NULL DEFAULT '',
    series           text,
    language         text,
    pages            integer,
    last_open        timestamptz,
    highlights       integer,
    notes            integer,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- One row per visit of a page (KOReader's page_stat_data). `duration` is in seconds;
-- `total_pages` is the page count of the book's layout at the time.
CREATE TABLE reading_page_visits (
    document    text NOT NULL REFERENCES reading_stat_books (document) ON DELETE CASCADE,
    started_at  timestamptz NOT NULL,
    page        integer NOT NULL,
    duration    integer NOT NULL CHECK (duration >= 0),
    total_pages integer NOT NULL,
    PRIMARY KEY (document, started_at, page)
);
-- Time read per day across the library.
CREATE INDEX reading_page_visits_started_at_idx ON reading_page_visits (started_at);

-- Every statistics file taken in (or refused), so a bad file is reported once, not on every
-- sync, and the screens can say when the statistics last arrived.
CREATE TABLE reading_stat_imports (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source       text NOT NULL,
    login        text,
    file_sha256  text NOT NULL,
    file_size    bigint NOT NULL,
    outcome      text NOT NULL CHECK (outcome IN ('imported', 'refused')),
    detail       text,
    books        integer NOT NULL DEFAULT 0,
    visits_added integer NOT NULL DEFAULT 0,
    imported_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reading_stat_imports_sha_idx ON reading_stat_imports (file_sha256, outcome);
CREATE INDEX reading_stat_imports_at_idx ON reading_stat_imports (imported_at DESC);
