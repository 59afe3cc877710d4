-- Reading progress: linking KoSync documents to books, and live updates for the screen.
-- No columns are added to the documented tables.

-- A document linked to a book by hand (when neither of KOReader's digests matches a file).
CREATE TABLE reading_document_links (
    document   text PRIMARY KEY,
    book_id    uuid NOT NULL REFERENCES books (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reading_document_links_book_id_idx ON reading_document_links (book_id);

-- KOReader's "filename" document id is the MD5 of the file's base name.
CREATE INDEX book_files_original_name_md5_idx ON book_files (md5(original_name));

-- The book a document belongs to and how it was found: a link made by hand wins, then the
-- file's partial MD5 (KOReader's default), then the MD5 of the file's name. A query-time
-- lookup, so progress stored before the book was imported links itself on import.
CREATE FUNCTION reading_document_book(doc text)
RETURNS TABLE (book_id uuid, link_method text)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT found.book_id, found.link_method
    FROM (
        SELECT l.book_id, 'manual'::text AS link_method, 0 AS rank
        FROM reading_document_links l WHERE l.document = doc
        UNION ALL
        SELECT bf.book_id, 'content_hash', 1
        FROM book_files bf WHERE bf.content_hash = doc
        UNION ALL
        SELECT bf.book_id, 'filename', 2
        FROM book_files bf WHERE md5(bf.original_name) = doc
    ) found
    ORDER BY found.rank, found.book_id
    LIMIT 1
$$;

-- The documents that belong to a book: its files' two digests and the links made by hand,
-- each kept only when it really resolves to this book (a hand-made link to another book wins).
CREATE FUNCTION reading_book_documents(book uuid)
RETURNS SETOF text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT candidate.document
    FROM (
        SELECT l.document FROM reading_document_links l WHERE l.book_id = book
        UNION
        SELECT bf.content_hash FROM book_files bf
        WHERE bf.book_id = book AND bf.content_hash IS NOT NULL
        UNION
        SELECT md5(bf.original_name) FROM book_files bf WHERE bf.book_id = book
    ) candidate(document)
    WHERE EXISTS (
        SELECT 1 FROM reading_document_book(candidate.document) found WHERE found.book_id = book
    )
$$;

-- The outcome of the last Hardcover sync of each book, with a reason a person can read
-- (hardcover_sync_log only records what was sent successfully).
CREATE TABLE hardcover_sync_outcomes (
    book_id     uuid PRIMARY KEY REFERENCES books (id) ON DELETE CASCADE,
    outcome     text NOT NULL,
    detail      text,
    recorded_at timestamptz NOT NULL DEFAULT now()
);

-- Live updates: every change of a current position (and of a hand-made link) is announced on
-- the channel 'shelver_reading_progress' with a small JSON payload (see data/reading.py).
-- Long values are cut so the payload stays far below NOTIFY's 8000-byte limit.
CREATE FUNCTION reading_progress_announce() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(
        'shelver_reading_progress',
        json_build_object(
            'kind', 'progress',
            'document', left(NEW.document, 512),
            'device', left(NEW.device, 512),
            'percentage', NEW.percentage,
            'timestamp', NEW."timestamp"
        )::text
    );
    RETURN NULL;
END;
$$;

CREATE TRIGGER reading_progress_announce_trigger
    AFTER INSERT OR UPDATE ON reading_progress
    FOR EACH ROW EXECUTE FUNCTION reading_progress_announce();

CREATE FUNCTION reading_document_links_announce() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    changed text := CASE WHEN TG_OP = 'DELETE' THEN OLD.document ELSE NEW.document END;
BEGIN
    PERFORM pg_notify(
        'shelver_reading_progress',
        json_build_object('kind', 'link', 'document', left(changed, 512))::text
    );
    RETURN NULL;
END;
$$;

CREATE TRIGGER reading_document_links_announce_trigger
    AFTER INSERT OR UPDATE OR DELETE ON reading_document_links
    FOR EACH ROW EXECUTE FUNCTION reading_document_links_announce();
