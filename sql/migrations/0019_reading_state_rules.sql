-- One place in SQL for the rules of data/reading_state.py (FINISHED_AT, PAUSED_AFTER): every
-- query reads them from these functions. IMMUTABLE, so the planner folds them into constants.
CREATE FUNCTION reading_finished_at() RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 0.95::numeric $$;

CREATE FUNCTION reading_paused_after() RETURNS interval
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT interval '30 days' $$;
