-- Live updates carry the whole position: a screen updates the changed row from the notice
-- itself instead of re-reading every position (see data/reading.py, ProgressNotice). Long
-- values are cut so the payload stays far below NOTIFY's 8000-byte limit.
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
            'updated_at', NEW.updated_at
        )::text
    );
    RETURN NULL;
END;
$$;
