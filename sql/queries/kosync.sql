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
-- The newest position of a document across devices (the last write wins).
SELECT document, percentage, progress, device, device_id, "timestamp"
FROM reading_progress
WHERE document = $1
ORDER BY updated_at DESC, "timestamp" DESC
LIMIT 1;

-- name: kosync_write_progress_batch
-- One group commit: every PUT of the batch goes to the history in arrival order, and the last
-- one per (document, device) becomes the current position. A single statement, so it is one
-- transaction and one round trip. Rows are upserted in key order so two writers never deadlock.
WITH incoming AS (
    SELECT *
    FROM unnest(
        $1::text[], $2::text[], $3::text[], $4::text[], $5::float8[], $6::bigint[], $7::text[]
    ) WITH ORDINALITY AS t(document, device, device_id, progress, percentage, ts, raw, position)
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
