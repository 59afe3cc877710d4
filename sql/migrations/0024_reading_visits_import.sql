-- Importing KOReader's page visits faster (issue 12): the per-row foreign-key check on
-- reading_page_visits.document cost more than the insert itself at 500,000 rows. The import
-- upserts a file's books before its visits, in the same transaction, under an advisory lock
-- (data/statistics_ingest.py), so every visit still has its book row.
ALTER TABLE reading_page_visits DROP CONSTRAINT reading_page_visits_document_fkey;

-- The visits at or past 95 % of a book (when it was finished, per month on the calendar): a
-- small partial index instead of a scan of every visit.
CREATE INDEX reading_page_visits_near_end_idx ON reading_page_visits (document, started_at)
    WHERE total_pages > 0 AND page >= 0.95 * total_pages;
