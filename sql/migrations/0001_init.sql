-- shelver's schema, as given by shared/spec/database-schema.md, plus the keys, indexes and
-- triggers that the document implies. No extra columns on the documented tables.

CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS unaccent;

-- unaccent() is only STABLE (it reads a dictionary); indexes need an IMMUTABLE wrapper that
-- names the dictionary explicitly so search_path cannot change its meaning.
CREATE FUNCTION shelver_fold(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
RETURN lower(public.unaccent('public.unaccent'::regdictionary, value));

CREATE TYPE book_status AS ENUM ('inbox', 'review', 'organized');

CREATE TABLE books (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    status                book_status NOT NULL DEFAULT 'inbox',
    title                 text,
    author                text,
    isbn_10               text,
    isbn_13               text,
    publisher             text,
    published_year        integer,
    language              text,
    description           text,
    cover_url             text,
    cover_path            text,
    page_count            integer,
    genres                text[] NOT NULL DEFAULT '{}',
    tags                  text[] NOT NULL DEFAULT '{}',
    hardcover_book_id     integer,
    hardcover_edition_id  integer,
    possible_duplicate_of uuid REFERENCES books (id) ON DELETE SET NULL,
    approved_at           timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    search_vector         tsvector
);

CREATE TABLE book_files (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    book_id       uuid NOT NULL REFERENCES books (id) ON DELETE CASCADE,
    format        text NOT NULL,
    original_name text NOT NULL,
    storage_path  text,
    inbox_path    text,
    file_size     bigint NOT NULL DEFAULT 0,
    checksum      text,
    content_hash  text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE book_metadata_candidates (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    book_id         uuid NOT NULL REFERENCES books (id) ON DELETE CASCADE,
    source          text NOT NULL,
    raw_response    jsonb,
    normalized      jsonb NOT NULL DEFAULT '{}',
    confidence      numeric(5, 4) NOT NULL DEFAULT 0,
    selected_fields text[] NOT NULL DEFAULT '{}',
    CONSTRAINT book_metadata_candidates_book_source_key UNIQUE (book_id, source)
);

CREATE TABLE reading_progress (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    document    text NOT NULL,
    device      text NOT NULL,
    device_id   text,
    progress    text NOT NULL,
    percentage  numeric(5, 4) NOT NULL DEFAULT 0,
    "timestamp" bigint NOT NULL DEFAULT 0,
    raw_payload jsonb,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT reading_progress_document_device_key UNIQUE (document, device)
);

CREATE TABLE reading_progress_history (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    document    text NOT NULL,
    device      text NOT NULL,
    progress    text NOT NULL,
    percentage  numeric(5, 4) NOT NULL DEFAULT 0,
    "timestamp" bigint NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE service_credentials (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    service       text NOT NULL,
    username      text NOT NULL,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz,
    CONSTRAINT service_credentials_service_username_key UNIQUE (service, username)
);

CREATE TABLE api_keys (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    key_prefix   text NOT NULL,
    key_hash     text NOT NULL,
    label        text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    CONSTRAINT api_keys_key_prefix_key UNIQUE (key_prefix)
);

CREATE TABLE hardcover_sync_log (
    id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    book_id                uuid NOT NULL REFERENCES books (id) ON DELETE CASCADE,
    hardcover_user_book_id integer,
    hardcover_read_id      integer,
    last_status            text,
    last_progress          numeric(5, 4),
    last_rating            numeric(3, 1),
    last_synced_at         timestamptz NOT NULL,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT hardcover_sync_log_book_id_key UNIQUE (book_id)
);

-- Lookups the app makes.
CREATE INDEX books_status_created_at_idx ON books (status, created_at DESC);
CREATE INDEX books_isbn_13_idx ON books (isbn_13) WHERE isbn_13 IS NOT NULL;
CREATE INDEX books_isbn_10_idx ON books (isbn_10) WHERE isbn_10 IS NOT NULL;
CREATE INDEX books_possible_duplicate_of_idx ON books (possible_duplicate_of)
    WHERE possible_duplicate_of IS NOT NULL;
CREATE INDEX books_search_vector_idx ON books USING gin (search_vector);
CREATE INDEX books_title_trgm_idx ON books USING gin (shelver_fold(title) gin_trgm_ops);
CREATE INDEX books_author_trgm_idx ON books USING gin (shelver_fold(author) gin_trgm_ops);
-- The exact-duplicate gate: one file per checksum, enforced even under concurrent imports.
CREATE UNIQUE INDEX book_files_checksum_key ON book_files (checksum) WHERE checksum IS NOT NULL;
CREATE INDEX book_files_content_hash_idx ON book_files (content_hash)
    WHERE content_hash IS NOT NULL;
CREATE INDEX book_files_book_id_idx ON book_files (book_id);
CREATE INDEX reading_progress_updated_at_idx ON reading_progress (updated_at DESC);
CREATE INDEX reading_progress_history_document_idx
    ON reading_progress_history (document, created_at);

-- search_vector: title and author weigh most, then description, then genres and tags. The
-- 'simple' configuration neither stems nor drops stop words, so titles in any language stay
-- findable word for word; accents are folded away on both sides of a search.
CREATE FUNCTION books_search_vector_refresh() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_vector :=
        setweight(to_tsvector('simple', coalesce(shelver_fold(NEW.title), '')), 'A')
        || setweight(to_tsvector('simple', coalesce(shelver_fold(NEW.author), '')), 'A')
        || setweight(to_tsvector('simple', coalesce(shelver_fold(NEW.description), '')), 'B')
        || setweight(to_tsvector('simple', shelver_fold(array_to_string(NEW.genres, ' '))), 'C')
        || setweight(to_tsvector('simple', shelver_fold(array_to_string(NEW.tags, ' '))), 'C');
    RETURN NEW;
END;
$$;

CREATE TRIGGER books_search_vector_trigger
    BEFORE INSERT OR UPDATE OF title, author, description, genres, tags ON books
    FOR EACH ROW EXECUTE FUNCTION books_search_vector_refresh();

CREATE FUNCTION touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

CREATE TRIGGER books_touch_updated_at BEFORE UPDATE ON books
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE TRIGGER book_files_touch_updated_at BEFORE UPDATE ON book_files
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE TRIGGER reading_progress_touch_updated_at BEFORE UPDATE ON reading_progress
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE TRIGGER service_credentials_touch_updated_at BEFORE UPDATE ON service_credentials
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE TRIGGER hardcover_sync_log_touch_updated_at BEFORE UPDATE ON hardcover_sync_log
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
