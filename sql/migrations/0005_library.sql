-- Library browsing and search: sort keys with their indexes, and the search-query builder.
-- No new columns: everything here is a function or an index over existing columns.

-- The sort key of a text column: folded (accents and case away), bounded so a huge title can
-- never overflow a btree entry, and NULL placed after every real value (U+10FFFF is the
-- largest code point, so NULLs come last ascending and first descending, as in plain SQL).
-- Callers add COLLATE "C" so the order is by bytes on any server, like the embedded cluster's.
CREATE FUNCTION shelver_sort_key(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN coalesce(left(shelver_fold(value), 200), U&'\+10FFFF');

-- A year's sort key: NULL after every real year, like the text keys.
CREATE FUNCTION shelver_sort_year(value integer) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN coalesce(value, 2147483647);

-- A person's search text as a tsquery: every word must match, the last one as a prefix.
-- The words are the lexemes that to_tsvector('simple', ...) finds in the folded text, which is
-- exactly how books.search_vector is built, so both sides agree on what a word is. Each lexeme
-- is quoted (quotes and backslashes doubled), so no character typed can act as an operator;
-- empty or punctuation-only text gives NULL, meaning "no search".
CREATE FUNCTION shelver_search_tsquery(input text) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (
    WITH lexemes AS (
        SELECT v.lexeme,
               v.positions[1] AS first_position,
               v.positions[cardinality(v.positions)] AS last_position
        FROM unnest(to_tsvector('simple', shelver_fold(left(input, 500)))) AS v
    )
    SELECT string_agg(
               '''' || replace(replace(l.lexeme, '\', '\\'), '''', '''''') || ''''
               || CASE WHEN l.last_position = (SELECT max(last_position) FROM lexemes)
                       THEN ':*' ELSE '' END,
               ' & ' ORDER BY l.first_position)::tsquery
    FROM lexemes l
);

-- Typo-tolerant matches on title and author, best first. A function only so it can lower
-- pg_trgm's word-similarity threshold for its own statement: the default 0.6 misses a
-- transposition in a seven-letter name ("tolkein" against "tolkien" scores 0.5).
CREATE FUNCTION shelver_fuzzy_books(input text, max_rows integer)
RETURNS TABLE (book_id uuid, score real)
LANGUAGE sql STABLE PARALLEL SAFE
SET pg_trgm.word_similarity_threshold = 0.4
AS $$
    SELECT b.id,
           greatest(word_similarity(q.folded, shelver_fold(b.title)),
                    word_similarity(q.folded, shelver_fold(b.author))) AS score
    -- Only the words, in order: punctuation and operators typed in the box are not spelling.
    FROM (SELECT string_agg(v.lexeme, ' ' ORDER BY v.positions[1]) AS folded
          FROM unnest(to_tsvector('simple', shelver_fold(left(input, 200)))) AS v) q
    JOIN books b ON (q.folded <% shelver_fold(b.title) OR q.folded <% shelver_fold(b.author))
    WHERE b.status = 'organized' AND length(q.folded) >= 4
    ORDER BY score DESC, b.id
    LIMIT max_rows
$$;

-- One index per browsing order, organized books only, each ending in id for a total order.
CREATE INDEX books_library_title_idx ON books
    ((shelver_sort_key(title) COLLATE "C"), id)
    WHERE status = 'organized';
CREATE INDEX books_library_author_idx ON books
    ((shelver_sort_key(author) COLLATE "C"), (shelver_sort_key(title) COLLATE "C"), id)
    WHERE status = 'organized';
CREATE INDEX books_library_language_idx ON books
    ((shelver_sort_key(language) COLLATE "C"), (shelver_sort_key(title) COLLATE "C"), id)
    WHERE status = 'organized';
CREATE INDEX books_library_year_idx ON books
    (shelver_sort_year(published_year), (shelver_sort_key(title) COLLATE "C"), id)
    WHERE status = 'organized';
