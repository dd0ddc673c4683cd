-- On PostgreSQL this migration makes indexed text compare byte by byte (COLLATE "C"). SQLite
-- compares text byte by byte already (BINARY), so there is nothing to change; the migration is
-- kept so that both stores count the same migrations.
SELECT 1;
