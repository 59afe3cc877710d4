-- OPDS catalogue: how books are grouped for e-readers, and the indexes that keep each group's
-- pages fast on a large library. No new columns: functions and indexes over existing ones.

-- The people in an author field, in order. shelver stores several authors as "A & B" (see
-- data/providers/normalize.py join_authors); ';' is accepted too, as some files use it.
CREATE FUNCTION shelver_authors(value text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN ARRAY(
    SELECT btrim(name) FROM regexp_split_to_table(coalesce(value, ''), '\s+&\s+|;') AS name
    WHERE btrim(name) <> ''
);

-- A book's series, from its first tag of the form "series:Name" or "series:Name #3" (how a
-- Calibre series is kept); NULL when it has none.
CREATE FUNCTION shelver_series_name(tags text[]) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (
    SELECT nullif(btrim(regexp_replace(substr(t, 8), '\s+#\s*[0-9]+(\.[0-9]+)?\s*$', '')), '')
    FROM unnest(tags) WITH ORDINALITY AS u(t, n)
    WHERE lower(left(t, 7)) = 'series:'
    ORDER BY n LIMIT 1
);

-- Its number in that series ("#2.5"), NULL when none is given (those come last).
CREATE FUNCTION shelver_series_index(tags text[]) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN coalesce((
    SELECT (regexp_match(t, '#\s*([0-9]+(?:\.[0-9]+)?)\s*$'))[1]::float8
    FROM unnest(tags) WITH ORDINALITY AS u(t, n)
    WHERE lower(left(t, 7)) = 'series:'
    ORDER BY n LIMIT 1
), 'infinity'::float8);

CREATE INDEX books_opds_authors_idx ON books USING gin (shelver_authors(author))
    WHERE status = 'organized';
CREATE INDEX books_opds_genres_idx ON books USING gin (genres) WHERE status = 'organized';
CREATE INDEX books_opds_series_idx ON books
    (shelver_series_name(tags), shelver_series_index(tags),
     (shelver_sort_key(title) COLLATE "C"), id)
    WHERE status = 'organized' AND shelver_series_name(tags) IS NOT NULL;
CREATE INDEX books_opds_new_idx ON books (created_at DESC, id DESC) WHERE status = 'organized';
