-- Placement records pushed by KP2MI. The NIK is never stored: `subject_key` is its keyed hash.
-- Name and contact are kept only while the worker's consent covers BUSINESS_MATCHING.
-- Multi-valued filter columns hold their codes as `|a|b|`, matched with LIKE '%|a|%'.
CREATE TABLE placements (
    id                  INTEGER PRIMARY KEY,
    placement_id        TEXT NOT NULL UNIQUE,
    subject_key         TEXT NOT NULL,
    -- The record's pseudonymous key in the audit log; random (128 bits), so erasing the row
    -- unlinks it. Never looked up here, so not indexed.
    record_key          TEXT NOT NULL,
    -- Salt of the record's digests in the audit log; erased with the row.
    salt                BLOB NOT NULL,
    -- Salted SHA-256 of the record as last pushed: an identical re-push changes nothing.
    digest              BLOB NOT NULL,
    version             INTEGER NOT NULL,
    updated_at          TEXT NOT NULL,
    -- The worker as Kemendag may see them (jembatan.v1.Candidate, protobuf), without
    -- pseudonym, name or contact.
    profile             BLOB NOT NULL,
    sex                 TEXT NOT NULL,
    origin_province     TEXT NOT NULL,
    origin_regency      TEXT NOT NULL,
    occupation_code     TEXT NOT NULL,
    destination_country TEXT NOT NULL,
    status              TEXT NOT NULL,
    return_date         TEXT,
    wants_to_export     INTEGER NOT NULL,
    certificate_schemes TEXT NOT NULL,
    languages           TEXT NOT NULL,
    hs_chapters         TEXT NOT NULL,
    consent_purposes    TEXT NOT NULL,
    full_name           TEXT,
    phone               TEXT,
    email               TEXT,
    -- Audit leaf index of the push that stored this version: gapless and in commit order, so
    -- WatchAvailability resumes from it without loss or duplicates.
    change_seq          INTEGER NOT NULL
);
CREATE INDEX placements_subject ON placements (subject_key);
CREATE INDEX placements_change ON placements (change_seq);
CREATE INDEX placements_occupation ON placements (occupation_code, origin_province);
CREATE INDEX placements_province ON placements (origin_province, occupation_code);
CREATE INDEX placements_return ON placements (return_date);

-- Workers whose personal data KP2MI had erased, and when: a record of theirs last changed before
-- the erasure is refused, so that a stale sync cannot bring the data back. Only the subject key
-- (a keyed hash) and the time are kept.
CREATE TABLE erased_subjects (
    subject_key TEXT PRIMARY KEY,
    erased_at   TEXT NOT NULL
);

-- Consent withdrawals, per worker and purpose: a pushed record whose consent was granted before
-- the withdrawal does not restore the purpose (a stale sync); consent granted after it does.
CREATE TABLE consent_withdrawals (
    subject_key  TEXT NOT NULL,
    purpose      TEXT NOT NULL,
    withdrawn_at TEXT NOT NULL,
    PRIMARY KEY (subject_key, purpose)
);
