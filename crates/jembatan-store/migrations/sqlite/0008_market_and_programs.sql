-- Market reports, export programs and enrolments (MarketIntelService and ProgramService).
-- Each is versioned per id like placements: `digest` is the salted SHA-256 of the record as last
-- sent (an identical re-send changes nothing), `record_key` its pseudonymous key in the audit
-- log, `change_seq` the audit leaf index of the send that stored this version. The record as
-- sent is kept in protobuf (`report`, `program`) and answered as is.

-- Market-opportunity reports from workers abroad, through KP2MI. No personal data: the exchange
-- refuses titles and summaries that look like they hold some.
CREATE TABLE market_reports (
    id                  INTEGER PRIMARY KEY,
    report_id           TEXT NOT NULL UNIQUE,
    record_key          TEXT NOT NULL,
    salt                BLOB NOT NULL,
    digest              BLOB NOT NULL,
    version             INTEGER NOT NULL,
    country             TEXT NOT NULL,
    kind                TEXT NOT NULL,
    -- HS codes and their chapters as `|a|b|`; a prefix matches with LIKE '%|p%'.
    hs_codes            TEXT NOT NULL,
    hs_chapters         TEXT NOT NULL,
    -- Title and summary as words for search, made by the exchange alike for both engines:
    -- lower-case runs of letters and digits, one space between them.
    search_text         TEXT NOT NULL,
    observed_on         TEXT NOT NULL,
    report              BLOB NOT NULL,
    change_seq          INTEGER NOT NULL
);
-- Newest first, and the position of a page.
CREATE INDEX market_reports_observed ON market_reports (observed_on, id);
CREATE INDEX market_reports_country ON market_reports (country, observed_on, id);

-- Full-text search over `search_text`: words matched whole or by prefix, kept in step with the
-- table by triggers. The exchange has split and lower-cased the words already, so the
-- tokenizer only cuts at the spaces, as PostgreSQL's does.
CREATE VIRTUAL TABLE market_reports_text USING fts5 (
    search_text,
    content = 'market_reports', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 0'
);
CREATE TRIGGER market_reports_text_insert AFTER INSERT ON market_reports BEGIN
    INSERT INTO market_reports_text (rowid, search_text) VALUES (new.id, new.search_text);
END;
CREATE TRIGGER market_reports_text_delete AFTER DELETE ON market_reports BEGIN
    INSERT INTO market_reports_text (market_reports_text, rowid, search_text)
    VALUES ('delete', old.id, old.search_text);
END;
CREATE TRIGGER market_reports_text_update AFTER UPDATE OF search_text ON market_reports BEGIN
    INSERT INTO market_reports_text (market_reports_text, rowid, search_text)
    VALUES ('delete', old.id, old.search_text);
    INSERT INTO market_reports_text (rowid, search_text) VALUES (new.id, new.search_text);
END;

-- Export programs published by Kemendag. `areas` holds the province (`PP`) and regency
-- (`PP.KK`) codes where a program runs as `|a|b|`, empty for nationwide.
CREATE TABLE programs (
    id          INTEGER PRIMARY KEY,
    program_id  TEXT NOT NULL UNIQUE,
    record_key  TEXT NOT NULL,
    salt        BLOB NOT NULL,
    digest      BLOB NOT NULL,
    version     INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    areas       TEXT NOT NULL,
    starts_on   TEXT NOT NULL,
    ends_on     TEXT NOT NULL,
    -- Places; 0 for unlimited.
    capacity    INTEGER NOT NULL,
    program     BLOB NOT NULL,
    change_seq  INTEGER NOT NULL
);

-- Workers' enrolments in programs, recorded by KP2MI. The NIK is never stored: `subject_key` is
-- its keyed hash, and an erasure or a withdrawal of consent for capacity building deletes the
-- worker's rows. `origin_province` is the worker's, from their placement, for the outcomes.
CREATE TABLE enrollments (
    id                INTEGER PRIMARY KEY,
    enrollment_id     TEXT NOT NULL UNIQUE,
    record_key        TEXT NOT NULL,
    salt              BLOB NOT NULL,
    digest            BLOB NOT NULL,
    version           INTEGER NOT NULL,
    program_id        TEXT NOT NULL,
    subject_key       TEXT NOT NULL,
    origin_province   TEXT NOT NULL,
    enrolled_on       TEXT NOT NULL,
    status            TEXT NOT NULL,
    business_started  INTEGER NOT NULL,
    export_deals_usd  INTEGER NOT NULL,
    change_seq        INTEGER NOT NULL
);
-- One enrolment per worker and program.
CREATE UNIQUE INDEX enrollments_program_subject ON enrollments (program_id, subject_key);
CREATE INDEX enrollments_subject ON enrollments (subject_key);
