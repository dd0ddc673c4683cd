-- The exchange instance: one row naming this database, so that a log, a backup or a second
-- server can tell which exchange a database belongs to.
CREATE TABLE instance (
    singleton   INTEGER PRIMARY KEY CHECK (singleton = 1),
    instance_id TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

INSERT INTO instance (singleton, instance_id, created_at)
VALUES (1, lower(hex(randomblob(16))), strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
