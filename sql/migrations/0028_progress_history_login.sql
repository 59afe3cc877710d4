-- Which login an update in reading_progress_history came from is read off its current row: a
-- document's stored device name belongs to one login (data/kosync.py names a second login's
-- "Kobo" "Kobo (bob)"), so (document, device) leads to reading_progress_logins. One more row and
-- two index entries per update cost a quarter of KoSync's write throughput (bench/kosync.py), so
-- the table 0025 made for it goes.
DROP TABLE reading_progress_history_logins;

CREATE OR REPLACE FUNCTION kosync_login_removed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.service = 'kosync' THEN
        DELETE FROM reading_progress_logins WHERE login = OLD.username;
        DELETE FROM kosync_shared_positions
        WHERE login = OLD.username OR reader = OLD.username;
    END IF;
    RETURN NULL;
END;
$$;
