-- Counts are answered from the exchange's in-memory index (jembatan-counts), which follows the
-- change sequence: the count indexes only slowed every push (each dirtied a page per record).
DROP INDEX placements_occupation;
DROP INDEX placements_province;
DROP INDEX placements_return;
-- The audit leaf index of each erasure, so that every exchange process on the same database
-- removes the worker from its counts. Erasures before this migration have none: they are
-- older than any index loaded from now on.
ALTER TABLE erased_subjects ADD COLUMN change_seq BIGINT;
CREATE INDEX erased_subjects_change ON erased_subjects (change_seq);
-- The count index loads every placement at start and follows changes in change order: an index
-- holding what it reads lets it do so without visiting the table once vacuum has marked the
-- pages all-visible. Entries are appended in change order, so a push still writes them at one
-- end.
DROP INDEX placements_change;
CREATE INDEX placements_change ON placements (change_seq) INCLUDE (id, subject_key, sex,
    origin_province, origin_regency, occupation_code, destination_country, status, return_date,
    wants_to_export, certificate_schemes, languages, hs_chapters);
