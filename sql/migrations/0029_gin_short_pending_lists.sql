-- Every lookup in a GIN index with fastupdate also reads its whole pending list, unsorted. The
-- default list holds up to 4 MB: after a large import (the 100,000-book benchmark's COPY left
-- ~270 pages) each search keystroke, count and typo lookup scanned it, 1.3-1.8 ms per index
-- scan before finding a single row. A 64 kB list keeps inserts batched but the scan short;
-- the lists earlier imports left are merged into the indexes now.
ALTER INDEX books_search_vector_idx SET (gin_pending_list_limit = 64);
ALTER INDEX books_title_trgm_idx SET (gin_pending_list_limit = 64);
ALTER INDEX books_author_trgm_idx SET (gin_pending_list_limit = 64);
ALTER INDEX books_opds_authors_idx SET (gin_pending_list_limit = 64);
ALTER INDEX books_opds_genres_idx SET (gin_pending_list_limit = 64);
SELECT gin_clean_pending_list(index)
FROM unnest(ARRAY['books_search_vector_idx', 'books_title_trgm_idx', 'books_author_trgm_idx',
                  'books_opds_authors_idx', 'books_opds_genres_idx']::regclass[]) AS index;
