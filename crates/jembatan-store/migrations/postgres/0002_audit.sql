-- The audit log. Leaves, node hashes, checkpoints and cosignatures are insert-only: triggers
-- refuse UPDATE and DELETE, so the program cannot rewrite history by mistake, and whoever drops
-- the triggers to do it on purpose is caught by the Merkle tree and the signed checkpoints.

-- The next leaf index. A transaction that appends leaves takes its indexes here and holds the
-- row lock until it commits, so indexes are gapless and committed in order.
CREATE TABLE audit_head (
    singleton  INTEGER PRIMARY KEY CHECK (singleton = 1),
    next_index BIGINT NOT NULL
);
INSERT INTO audit_head (singleton, next_index) VALUES (1, 0);

-- One leaf per record shared and per refused request. `data` is the exact bytes hashed; the
-- other columns copy fields of it for filtering and are never trusted over it.
CREATE TABLE audit_leaves (
    leaf_index  BIGINT PRIMARY KEY,
    leaf_hash   BYTEA NOT NULL,
    data        BYTEA NOT NULL,
    time        TEXT NOT NULL,
    principal   TEXT NOT NULL,
    method      TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    record_type TEXT NOT NULL,
    record_key  TEXT NOT NULL
);
CREATE INDEX audit_leaves_time ON audit_leaves (time);
CREATE INDEX audit_leaves_principal ON audit_leaves (principal, time);
CREATE INDEX audit_leaves_record_key ON audit_leaves (record_key);
CREATE INDEX audit_leaves_hash ON audit_leaves (leaf_hash);

-- Roots of perfect subtrees of 2^level leaves (level >= 1; level 0 is audit_leaves.leaf_hash),
-- written once by the sequencer when the subtree is complete.
CREATE TABLE audit_nodes (
    level      INTEGER NOT NULL,
    node_index BIGINT NOT NULL,
    hash       BYTEA NOT NULL,
    PRIMARY KEY (level, node_index)
);

-- Signed checkpoints, one per integrated size.
CREATE TABLE audit_checkpoints (
    tree_size  BIGINT PRIMARY KEY,
    root       BYTEA NOT NULL,
    note       TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- Witnesses' cosignature lines over a checkpoint's text.
CREATE TABLE audit_cosignatures (
    tree_size  BIGINT NOT NULL REFERENCES audit_checkpoints (tree_size),
    witness    TEXT NOT NULL,
    signature  TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tree_size, witness)
);

CREATE FUNCTION audit_insert_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is insert-only', TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER audit_leaves_insert_only BEFORE UPDATE OR DELETE ON audit_leaves
    FOR EACH ROW EXECUTE FUNCTION audit_insert_only();
CREATE TRIGGER audit_nodes_insert_only BEFORE UPDATE OR DELETE ON audit_nodes
    FOR EACH ROW EXECUTE FUNCTION audit_insert_only();
CREATE TRIGGER audit_checkpoints_insert_only BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_insert_only();
