-- Leaf hashes are random, so an index on them alone dirties a page of its own for nearly every
-- leaf appended, wherever in the index that page is: at a million leaves that index was the one
-- random write left on every push and every page of candidates. Keyed first by the leaf's
-- bucket of 4,096 consecutive indexes, the index is appended at its end, within the few pages
-- of the newest bucket. A lookup by hash probes each bucket once (245 probes at a million
-- leaves; see Store::leaf_index).
DROP INDEX audit_leaves_hash;
CREATE INDEX audit_leaves_hash ON audit_leaves ((leaf_index >> 12), leaf_hash);
