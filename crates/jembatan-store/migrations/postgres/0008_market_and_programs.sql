-- Market reports, export programs and enrolments (MarketIntelService and ProgramService).
-- Each is versioned per id like placements: `digest` is the salted SHA-256 of the record as last
-- sent (an identical re-send changes nothing), `record_key` its pseudonymous key in the audit
-- log, `change_seq` the audit leaf index of the send that stored this version. The record as
-- sent is kept in protobuf (`report`, `program`) and answered as is.

-- Market-opportunity reports from workers abroad, through KP2MI. No personal data: the exchange
-- refuses titles and summaries that look like they hold some.
CREATE TABLE market_reports (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    report_id           TEXT NOT NULL UNIQUE,
    record_key          TEXT NOT NULL,
    salt                BYTEA NOT NULL,
    digest              BYTEA NOT NULL,
    version             BIGINT NOT NULL,
    country             TEXT NOT NULL,
    kind                TEXT NOT NULL,
    -- HS codes and their chapters as `|a|b|`; a prefix matches with LIKE '%|p%'.
    hs_codes            TEXT NOT NULL,
    hs_chapters         TEXT NOT NULL,
    title               TEXT NOT NULL,
    summary             TEXT NOT NULL,
    observed_on         TEXT NOT NULL,
    report              BYTEA NOT NULL,
    change_seq          BIGINT NOT NULL,
    -- Full-text search over title and summary: the `simple` configuration, which lower-cases
    -- words and stems none, so that Indonesian and English words match alike.
    text_search         TSVECTOR GENERATED ALWAYS AS
                            (to_tsvector('simple', title || ' ' || summary)) STORED
);
-- Newest first, and the position of a page.
CREATE INDEX market_reports_observed ON market_reports (observed_on, id);
CREATE INDEX market_reports_country ON market_reports (country, observed_on, id);
CREATE INDEX market_reports_text ON market_reports USING GIN (text_search);

-- Export programs published by Kemendag. `areas` holds the province (`PP`) and regency
-- (`PP.KK`) codes where a program runs as `|a|b|`, empty for nationwide.
CREATE TABLE programs (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    program_id  TEXT NOT NULL UNIQUE,
    record_key  TEXT NOT NULL,
    salt        BYTEA NOT NULL,
    digest      BYTEA NOT NULL,
    version     BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    areas       TEXT NOT NULL,
    starts_on   TEXT NOT NULL,
    ends_on     TEXT NOT NULL,
    -- Places; 0 for unlimited.
    capacity    BIGINT NOT NULL,
    program     BYTEA NOT NULL,
    change_seq  BIGINT NOT NULL
);

-- Workers' enrolments in programs, recorded by KP2MI. The NIK is never stored: `subject_key` is
-- its keyed hash, and an erasure or a withdrawal of consent for capacity building deletes the
-- worker's rows. `origin_province` is the worker's, from their placement, for the outcomes.
CREATE TABLE enrollments (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    enrollment_id     TEXT NOT NULL UNIQUE,
    record_key        TEXT NOT NULL,
    salt              BYTEA NOT NULL,
    digest            BYTEA NOT NULL,
    version           BIGINT NOT NULL,
    program_id        TEXT NOT NULL,
    subject_key       TEXT NOT NULL,
    origin_province   TEXT NOT NULL,
    enrolled_on       TEXT NOT NULL,
    status            TEXT NOT NULL,
    business_started  BOOLEAN NOT NULL,
    export_deals_usd  BIGINT NOT NULL,
    change_seq        BIGINT NOT NULL
);
-- One enrolment per worker and program.
CREATE UNIQUE INDEX enrollments_program_subject ON enrollments (program_id, subject_key);
CREATE INDEX enrollments_subject ON enrollments (subject_key);
