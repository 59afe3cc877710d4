-- Reading statistics that import fast and read fast (issue 12).
--
-- * Page visits name their document by a small integer (reading_stat_books.id) instead of the
--   32-character MD5: half the bytes per row and per primary-key entry, and integer compares.
-- * Each document keeps its running totals (time, visits, first/last read, finished), updated
--   by the import from the visits it adds: the Library sorts and filters by them without
--   reading every visit.
-- * Time read per quarter hour (reading_stat_quarters): the calendar, the streak and the pace
--   read a few thousand rows instead of the visits. Quarter hours, because every time zone's
--   offset is a multiple of 15 minutes, so local days add up exactly.
-- The visits then need only their primary key (the started_at and near-end indexes go).

ALTER TABLE reading_stat_books
    ADD COLUMN id          integer GENERATED ALWAYS AS IDENTITY UNIQUE,
    ADD COLUMN seconds     bigint NOT NULL DEFAULT 0,
    ADD COLUMN visits      integer NOT NULL DEFAULT 0,
    ADD COLUMN first_read  timestamptz,
    ADD COLUMN last_read   timestamptz,  -- the end of the last visit
    ADD COLUMN finished_at timestamptz;  -- the first visit at or past reading_finished_at()

-- The visits again, by book number and with KOReader's own Unix seconds (so a file's visits
-- can be copied in as they are), keyed for the import's merge.
CREATE TABLE reading_page_visits_new (
    stat_book   integer NOT NULL,  -- reading_stat_books.id
    start_time  bigint NOT NULL,   -- Unix seconds
    page        integer NOT NULL,
    duration    integer NOT NULL CHECK (duration >= 0),
    total_pages integer NOT NULL,
    PRIMARY KEY (stat_book, start_time, page)
);
INSERT INTO reading_page_visits_new (stat_book, start_time, page, duration, total_pages)
SELECT b.id, extract(epoch FROM v.started_at)::bigint, v.page, v.duration, v.total_pages
FROM reading_page_visits v JOIN reading_stat_books b ON b.document = v.document
ON CONFLICT DO NOTHING;
DROP TABLE reading_page_visits;
ALTER TABLE reading_page_visits_new RENAME TO reading_page_visits;
ALTER INDEX reading_page_visits_new_pkey RENAME TO reading_page_visits_pkey;

CREATE TABLE reading_stat_quarters (
    quarter   timestamptz NOT NULL,  -- the quarter hour the visits started in (UTC-aligned)
    stat_book integer NOT NULL,
    seconds   bigint NOT NULL,
    visits    integer NOT NULL,
    PRIMARY KEY (quarter, stat_book)
);

-- Recount the totals and quarter hours of the books `changed` from their visits: what the
-- import runs for the books it added visits to (visits are never removed, so a book's
-- quarters are only ever replaced or added).
CREATE FUNCTION reading_stat_refresh(changed integer[]) RETURNS void
LANGUAGE sql VOLATILE AS $$
    WITH per_quarter AS MATERIALIZED (
        SELECT to_timestamp(v.start_time / 900 * 900) AS quarter, v.stat_book,
               sum(v.duration) AS seconds, count(*) AS visits,
               min(v.start_time) AS first_read,
               max(v.start_time + v.duration) AS last_read,
               min(v.start_time) FILTER (
                   WHERE v.total_pages > 0 AND v.page >= reading_finished_at() * v.total_pages
               ) AS finished_at
        FROM reading_page_visits v
        WHERE v.stat_book = ANY (changed)
        GROUP BY 1, 2
    ),
    quarters AS (
        INSERT INTO reading_stat_quarters AS q (quarter, stat_book, seconds, visits)
        SELECT quarter, stat_book, seconds, visits FROM per_quarter
        ON CONFLICT (quarter, stat_book) DO UPDATE SET
            seconds = EXCLUDED.seconds, visits = EXCLUDED.visits
        WHERE (q.seconds, q.visits) IS DISTINCT FROM (EXCLUDED.seconds, EXCLUDED.visits)
    )
    UPDATE reading_stat_books b SET
        seconds = t.seconds, visits = t.visits, first_read = to_timestamp(t.first_read),
        last_read = to_timestamp(t.last_read), finished_at = to_timestamp(t.finished_at)
    FROM (
        SELECT stat_book, sum(seconds) AS seconds, sum(visits) AS visits,
               min(first_read) AS first_read, max(last_read) AS last_read,
               min(finished_at) AS finished_at
        FROM per_quarter
        GROUP BY stat_book
    ) t
    WHERE b.id = t.stat_book
$$;

SELECT reading_stat_refresh(array_agg(id)) FROM reading_stat_books;
