-- The exchange instance: one row naming this database, so that a log, a backup or a second
-- server can tell which exchange a database belongs to.
CREATE TABLE instance (
    singleton   INTEGER PRIMARY KEY CHECK (singleton = 1),
    instance_id TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

INSERT INTO instance (singleton, instance_id, created_at)
VALUES (
    1,
    replace(gen_random_uuid()::text, '-', ''),
    to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
);
