-- The audit log. Leaves, node hashes, checkpoints and cosignatures are insert-only: triggers
-- refuse UPDATE and DELETE, so the program cannot rewrite history by mistake, and whoever drops
-- the triggers to do it on purpose is caught by the Merkle tree and the signed checkpoints.

-- The next leaf index. A transaction that appends leaves takes its indexes here and holds the
-- row until it commits, so indexes are gapless and committed in order.
CREATE TABLE audit_head (
    singleton  INTEGER PRIMARY KEY CHECK (singleton = 1),
    next_index INTEGER NOT NULL
);
INSERT INTO audit_head (singleton, next_index) VALUES (1, 0);

-- One leaf per record shared and per refused request. `data` is the exact bytes hashed; the
-- other columns copy fields of it for filtering and are never trusted over it.
CREATE TABLE audit_leaves (
    leaf_index  INTEGER PRIMARY KEY,
    leaf_hash   BLOB NOT NULL,
    data        BLOB NOT NULL,
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
    node_index INTEGER NOT NULL,
    hash       BLOB NOT NULL,
    PRIMARY KEY (level, node_index)
);

-- Signed checkpoints, one per integrated size.
CREATE TABLE audit_checkpoints (
    tree_size  INTEGER PRIMARY KEY,
    root       BLOB NOT NULL,
    note       TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- Witnesses' cosignature lines over a checkpoint's text.
CREATE TABLE audit_cosignatures (
    tree_size  INTEGER NOT NULL REFERENCES audit_checkpoints (tree_size),
    witness    TEXT NOT NULL,
    signature  TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tree_size, witness)
);

CREATE TRIGGER audit_leaves_no_update BEFORE UPDATE ON audit_leaves
BEGIN SELECT RAISE(ABORT, 'audit_leaves is insert-only'); END;
CREATE TRIGGER audit_leaves_no_delete BEFORE DELETE ON audit_leaves
BEGIN SELECT RAISE(ABORT, 'audit_leaves is insert-only'); END;
CREATE TRIGGER audit_nodes_no_update BEFORE UPDATE ON audit_nodes
BEGIN SELECT RAISE(ABORT, 'audit_nodes is insert-only'); END;
CREATE TRIGGER audit_nodes_no_delete BEFORE DELETE ON audit_nodes
BEGIN SELECT RAISE(ABORT, 'audit_nodes is insert-only'); END;
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is insert-only'); END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is insert-only'); END;
