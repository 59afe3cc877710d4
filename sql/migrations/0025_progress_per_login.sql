-- Reading progress per KoSync login, as the reference server keeps it (user + document).
--
-- Why tables beside the seed ones and not a column: reading_progress and
-- reading_progress_history must stay exactly as shared/spec/database-schema.md documents them
-- (no user column; one current row per (document, device)). So which login wrote a row is
-- recorded here, one row per seed row, and removed with it (ON DELETE CASCADE).
--
-- Two logins may both call their device "Kobo" while reading one document; (document, device)
-- stays unique in reading_progress, so the second one's row is stored under a qualified device
-- name ("Kobo (bob)", chosen in data/kosync.py). `device` below keeps the name as the device
-- sent it: the key a login's device writes and reads under.
CREATE TABLE reading_progress_logins (
    progress_id uuid PRIMARY KEY REFERENCES reading_progress (id) ON DELETE CASCADE,
    login       text NOT NULL,
    document    text NOT NULL,
    device      text NOT NULL,
    CONSTRAINT reading_progress_logins_key UNIQUE (login, document, device)
);

CREATE TABLE reading_progress_history_logins (
    history_id uuid PRIMARY KEY REFERENCES reading_progress_history (id) ON DELETE CASCADE,
    login      text NOT NULL
);
CREATE INDEX reading_progress_history_logins_login_idx
    ON reading_progress_history_logins (login);

-- One person, several logins (a phone and an e-reader set up apart): a login may share the
-- positions of another. Logins with the same `reader` (and the reader itself) see each other's
-- positions; each still writes under its own name, so sharing can be undone without loss.
CREATE TABLE kosync_shared_positions (
    login      text PRIMARY KEY,
    reader     text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT kosync_shared_positions_not_self CHECK (login <> reader)
);
CREATE INDEX kosync_shared_positions_reader_idx ON kosync_shared_positions (reader);

-- The logins whose positions `who` sees: itself and every login sharing with it.
CREATE FUNCTION kosync_login_group(who text) RETURNS text[]
LANGUAGE sql STABLE PARALLEL SAFE STRICT
RETURN (
    WITH head AS (
        SELECT coalesce((SELECT s.reader FROM kosync_shared_positions s WHERE s.login = who),
                        who) AS reader
    )
    SELECT array_agg(DISTINCT member ORDER BY member)
    FROM (SELECT who AS member
          UNION ALL SELECT head.reader FROM head
          UNION ALL SELECT s.login FROM kosync_shared_positions s, head
                    WHERE s.reader = head.reader) members
);

-- Positions written before this migration were shared by every login; nothing recorded who
-- sent them (the body has no user), so they go to the first KoSync login, the library's owner.
-- With no KoSync login yet they stay unowned: shown on the screens, returned to no device.
INSERT INTO reading_progress_logins (progress_id, login, document, device)
SELECT rp.id, first_login.username, rp.document, rp.device
FROM reading_progress rp
CROSS JOIN (SELECT username FROM service_credentials WHERE service = 'kosync'
            ORDER BY created_at, username LIMIT 1) first_login;

INSERT INTO reading_progress_history_logins (history_id, login)
SELECT h.id, first_login.username
FROM reading_progress_history h
CROSS JOIN (SELECT username FROM service_credentials WHERE service = 'kosync'
            ORDER BY created_at, username LIMIT 1) first_login;

-- A removed login's positions stay in the library but belong to no one: a login registered
-- later under the same name must not inherit them.
CREATE FUNCTION kosync_login_removed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.service = 'kosync' THEN
        DELETE FROM reading_progress_logins WHERE login = OLD.username;
        DELETE FROM reading_progress_history_logins WHERE login = OLD.username;
        DELETE FROM kosync_shared_positions
        WHERE login = OLD.username OR reader = OLD.username;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER service_credentials_kosync_removed
    AFTER DELETE ON service_credentials
    FOR EACH ROW EXECUTE FUNCTION kosync_login_removed();

-- Live updates name the login. The notice is sent at commit (a deferred trigger), when the
-- login row written in the same transaction is there to be read.
CREATE OR REPLACE FUNCTION reading_progress_announce() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(
        'shelver_reading_progress',
        json_build_object(
            'kind', 'progress',
            'document', left(NEW.document, 512),
            'device', left(NEW.device, 512),
            'device_id', left(NEW.device_id, 512),
            'progress', left(NEW.progress, 512),
            'percentage', NEW.percentage,
            'timestamp', NEW."timestamp",
            'updated_at', NEW.updated_at,
            'login', (SELECT left(o.login, 512) FROM reading_progress_logins o
                      WHERE o.progress_id = NEW.id)
        )::text
    );
    RETURN NULL;
END;
$$;

DROP TRIGGER reading_progress_announce_trigger ON reading_progress;
CREATE CONSTRAINT TRIGGER reading_progress_announce_trigger
    AFTER INSERT OR UPDATE ON reading_progress
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION reading_progress_announce();
