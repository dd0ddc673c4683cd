-- Counts are answered from the exchange's in-memory index (jembatan-counts), which follows the
-- change sequence: the count indexes only slowed every push (each dirtied a page per record).
DROP INDEX placements_occupation;
DROP INDEX placements_province;
DROP INDEX placements_return;
-- The audit leaf index of each erasure, so that every exchange process on the same database
-- removes the worker from its counts. Erasures before this migration have none: they are
-- older than any index loaded from now on.
ALTER TABLE erased_subjects ADD COLUMN change_seq INTEGER;
CREATE INDEX erased_subjects_change ON erased_subjects (change_seq);
