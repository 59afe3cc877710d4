-- name: list_credentials
SELECT id, service, username, created_at, updated_at
FROM service_credentials ORDER BY service, username;
