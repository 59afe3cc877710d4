-- Logins sharing reading positions (table kosync_shared_positions, migration 0025). A group is
-- one reader (a login with no row here) and the logins whose row names it.

-- name: sharing_group
SELECT kosync_login_group($1::text);

-- name: sharing_list
SELECT login, reader FROM kosync_shared_positions ORDER BY reader, login;

-- name: sharing_join
-- $1 joins the group of $2: its reader is $2's reader (or $2 itself). Whoever shared with $1
-- comes along, so a reader never has a row of its own. One statement, so one step.
WITH target AS (
    SELECT coalesce((SELECT reader FROM kosync_shared_positions WHERE login = $2::text),
                    $2::text) AS reader
),
moved AS (
    UPDATE kosync_shared_positions s SET reader = t.reader
    FROM target t
    WHERE s.reader = $1::text AND s.login <> t.reader
    RETURNING s.login
)
INSERT INTO kosync_shared_positions (login, reader)
SELECT $1::text, t.reader FROM target t WHERE t.reader <> $1::text
ON CONFLICT (login) DO UPDATE SET reader = EXCLUDED.reader, created_at = now();

-- name: sharing_leave
-- $1 leaves its group. When it was the group's reader, the first other login takes its place
-- and the rest follow it. True when anything changed.
WITH own AS (
    DELETE FROM kosync_shared_positions WHERE login = $1::text RETURNING login
),
heir AS (
    SELECT min(login) AS login FROM kosync_shared_positions WHERE reader = $1::text
),
promoted AS (
    DELETE FROM kosync_shared_positions s USING heir h WHERE s.login = h.login
    RETURNING s.login
),
moved AS (
    UPDATE kosync_shared_positions s SET reader = h.login
    FROM heir h
    WHERE s.reader = $1::text AND s.login <> h.login
    RETURNING s.login
)
SELECT (SELECT count(*) FROM own) + (SELECT count(*) FROM promoted) > 0;
