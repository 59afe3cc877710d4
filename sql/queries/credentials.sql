-- name: list_credentials
SELECT id, service, username, created_at, updated_at
FROM service_credentials ORDER BY service, username;

-- name: credential_hash
-- The stored hash of a login of service $1 named $2, or no row.
SELECT password_hash FROM service_credentials WHERE service = $1 AND username = $2;

-- name: credential_update_secret
-- A new secret for an existing login; no row back when there is no such login.
UPDATE service_credentials SET password_hash = $3
WHERE service = $1 AND username = $2
RETURNING id;

-- name: credential_delete
DELETE FROM service_credentials WHERE service = $1 AND username = $2 RETURNING id;

-- name: api_key_insert
INSERT INTO api_keys (key_prefix, key_hash, label) VALUES ($1, $2, $3)
RETURNING id, key_prefix, label, created_at, last_used_at;

-- name: api_key_list
SELECT id, key_prefix, label, created_at, last_used_at FROM api_keys ORDER BY created_at, key_prefix;

-- name: api_key_hash
SELECT key_hash FROM api_keys WHERE key_prefix = $1;

-- name: api_key_delete
-- Revoking deletes the row: the prefix then matches nothing, so the next request is refused.
DELETE FROM api_keys WHERE key_prefix = $1
RETURNING id, key_prefix, label, created_at, last_used_at;

-- name: api_key_touch
-- last_used_at moves at most once a minute, whatever the number of processes using the key.
UPDATE api_keys SET last_used_at = now()
WHERE key_prefix = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute');
