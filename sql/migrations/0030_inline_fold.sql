-- shelver_fold returns exactly what it did (0001_init.sql), and now costs a fraction of it.
-- unaccent() is only STABLE, so PostgreSQL would not inline the IMMUTABLE function that called
-- it: every call ran through the SQL-function executor, about 1.5 µs, and a broad search sorted
-- by title computes shelver_sort_key for each of its thousands of matches. ts_lexize() runs the
-- same unaccent dictionary on the same text and is IMMUTABLE, so this body is inlined into every
-- query and index expression like plain lower(). The dictionary answers NULL when it changes
-- nothing, hence the coalesce (which needs the function not to be STRICT to be inlined; NULL
-- still gives NULL). Indexes over shelver_fold stay valid: every value is unchanged.
CREATE OR REPLACE FUNCTION shelver_fold(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN lower(coalesce((ts_lexize('public.unaccent'::regdictionary, value))[1], value));
