-- name: kosync_user_hash
-- The stored hash of a KoSync login (service 'kosync'), or no row.
SELECT password_hash FROM service_credentials WHERE service = 'kosync' AND username = $1;

-- name: kosync_insert_credential
-- A new login of any service; no row back when (service, username) already exists.
INSERT INTO service_credentials (service, username, password_hash)
VALUES ($1, $2, $3)
ON CONFLICT (service, username) DO NOTHING
RETURNING id;

-- name: kosync_replace_credential
-- Create or replace a login's secret; `created` tells which happened.
INSERT INTO service_credentials (service, username, password_hash)
VALUES ($1, $2, $3)
ON CONFLICT (service, username) DO UPDATE SET password_hash = EXCLUDED.password_hash
RETURNING id, (xmax = 0) AS created;

-- name: kosync_first_credential_secret
-- The stored secret of the first login of a service (for services with one account).
SELECT password_hash FROM service_credentials WHERE service = $1 ORDER BY created_at, username
LIMIT 1;

-- name: kosync_latest_progress
-- For each (document $1[i], login $2[i]), numbered by `position` (i): the newest position of
-- that document among the devices of the login and of the logins it shares positions with (the
-- last write wins); no row when there is none. The device is named as it sent its name. Many
-- GETs in one statement (data/kosync.py, ProgressReader).
SELECT asked.position, latest.*
FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS asked(document, login, position)
CROSS JOIN LATERAL (
    SELECT rp.document, rp.percentage, rp.progress, o.device, rp.device_id, rp."timestamp"
    FROM reading_progress_logins o
    JOIN reading_progress rp ON rp.id = o.progress_id
    WHERE o.login = ANY (kosync_login_group(asked.login)) AND o.document = asked.document
    ORDER BY rp.updated_at DESC, rp."timestamp" DESC
    LIMIT 1
) latest;

-- name: kosync_stored_devices
-- Every current row of the documents $1: its stored device name, and who wrote it under which
-- device name (login NULL: a row of no login, keyed by its stored name).
SELECT rp.document, rp.device AS stored_device, o.login, coalesce(o.device, rp.device) AS device
FROM reading_progress rp
LEFT JOIN reading_progress_logins o ON o.progress_id = rp.id
WHERE rp.document = ANY ($1::text[]);

-- name: kosync_known_devices
-- The stored device name of each (login $1[i], document $2[i], device as sent $3[i]) whose
-- login already has a current row for it; no row for a key without one.
SELECT o.login, o.document, o.device, rp.device AS stored_device
FROM unnest($1::text[], $2::text[], $3::text[]) AS k(login, document, device)
JOIN reading_progress_logins o
    ON o.login = k.login AND o.document = k.document AND o.device = k.device
JOIN reading_progress rp ON rp.id = o.progress_id;

-- name: kosync_lock_new_devices
-- Held to the end of the transaction: one writer at a time picks names for new rows.
SELECT pg_advisory_xact_lock($1::bigint);

-- name: kosync_write_progress_batch
-- One group commit: every PUT of the batch goes to the history in arrival order, and the last
-- one per (document, stored device) becomes the current position; a new row is recorded as its
-- login's ($8, with $9 the device name as sent; $2 is the stored name, see data/kosync.py; the
-- history's login is its current row's).
-- A single statement, so one round trip. Rows are upserted in key order so two writers never
-- deadlock.
WITH incoming AS (
    SELECT *
    FROM unnest(
        $1::text[], $2::text[], $3::text[], $4::text[], $5::float8[], $6::bigint[], $7::text[],
        $8::text[], $9::text[]
    ) WITH ORDINALITY
        AS t(document, device, device_id, progress, percentage, ts, raw, login, sent, position)
),
latest AS (
    SELECT DISTINCT ON (document, device) *
    FROM incoming
    ORDER BY document, device, position DESC
),
current AS (
    INSERT INTO reading_progress AS rp
        (document, device, device_id, progress, percentage, "timestamp", raw_payload)
    SELECT document, device, device_id, progress, round(percentage::numeric, 4), ts, raw::jsonb
    FROM latest
    ORDER BY document, device
    ON CONFLICT (document, device) DO UPDATE SET
        device_id = EXCLUDED.device_id,
        progress = EXCLUDED.progress,
        percentage = EXCLUDED.percentage,
        "timestamp" = EXCLUDED."timestamp",
        raw_payload = EXCLUDED.raw_payload
    RETURNING rp.id, rp.document, rp.device, (rp.xmax = 0) AS inserted
),
owners AS (  -- a row that existed already has its login
    INSERT INTO reading_progress_logins (progress_id, login, document, device)
    SELECT c.id, l.login, l.document, l.sent
    FROM current c JOIN latest l ON l.document = c.document AND l.device = c.device
    WHERE l.login IS NOT NULL AND c.inserted
    ON CONFLICT DO NOTHING
    RETURNING 1
)
INSERT INTO reading_progress_history (document, device, progress, percentage, "timestamp")
SELECT document, device, progress, round(percentage::numeric, 4), ts
FROM incoming
ORDER BY position;

-- name: kosync_durable_session
-- The writer's own session waits for the WAL flush at every commit, whatever the server's
-- default: an acknowledged PUT must survive a crash.
SET synchronous_commit = on;
