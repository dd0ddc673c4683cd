-- Every text column that is indexed, grouped, counted distinct or compared holds codes, hex
-- keys, RFC 3339 times or SPIFFE IDs, whose order is their byte order. Under the database's
-- default collation (C.UTF-8, en_US.UTF-8, ...) PostgreSQL compares them through strcoll(),
-- which a profile of a push showed among the top costs of its B-tree inserts, and which makes
-- the order depend on the server's locale. "C" compares bytes, as SQLite's BINARY does.
-- Changing a column's collation rewrites its table and indexes under an exclusive lock: on a
-- large log, run this upgrade in a maintenance window.
ALTER TABLE audit_leaves
    ALTER COLUMN time TYPE TEXT COLLATE "C",
    ALTER COLUMN principal TYPE TEXT COLLATE "C",
    ALTER COLUMN method TYPE TEXT COLLATE "C",
    ALTER COLUMN purpose TYPE TEXT COLLATE "C",
    ALTER COLUMN outcome TYPE TEXT COLLATE "C",
    ALTER COLUMN record_type TYPE TEXT COLLATE "C",
    ALTER COLUMN record_key TYPE TEXT COLLATE "C";

ALTER TABLE placements
    ALTER COLUMN placement_id TYPE TEXT COLLATE "C",
    ALTER COLUMN subject_key TYPE TEXT COLLATE "C",
    ALTER COLUMN record_key TYPE TEXT COLLATE "C",
    ALTER COLUMN updated_at TYPE TEXT COLLATE "C",
    ALTER COLUMN sex TYPE TEXT COLLATE "C",
    ALTER COLUMN origin_province TYPE TEXT COLLATE "C",
    ALTER COLUMN origin_regency TYPE TEXT COLLATE "C",
    ALTER COLUMN occupation_code TYPE TEXT COLLATE "C",
    ALTER COLUMN destination_country TYPE TEXT COLLATE "C",
    ALTER COLUMN status TYPE TEXT COLLATE "C",
    ALTER COLUMN return_date TYPE TEXT COLLATE "C",
    ALTER COLUMN certificate_schemes TYPE TEXT COLLATE "C",
    ALTER COLUMN languages TYPE TEXT COLLATE "C",
    ALTER COLUMN hs_chapters TYPE TEXT COLLATE "C",
    ALTER COLUMN consent_purposes TYPE TEXT COLLATE "C";

ALTER TABLE audit_cosignatures
    ALTER COLUMN witness TYPE TEXT COLLATE "C",
    ALTER COLUMN created_at TYPE TEXT COLLATE "C";

ALTER TABLE erased_subjects
    ALTER COLUMN subject_key TYPE TEXT COLLATE "C",
    ALTER COLUMN erased_at TYPE TEXT COLLATE "C";

ALTER TABLE consent_withdrawals
    ALTER COLUMN subject_key TYPE TEXT COLLATE "C",
    ALTER COLUMN purpose TYPE TEXT COLLATE "C",
    ALTER COLUMN withdrawn_at TYPE TEXT COLLATE "C";
