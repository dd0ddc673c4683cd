-- Market reports, export programs and enrolments (MarketIntelService and ProgramService).
-- Codes, keys, ids and dates compare in byte order (COLLATE "C"), as in 0006.
-- Each is versioned per id like placements: `digest` is the salted SHA-256 of the record as last
-- sent (an identical re-send changes nothing), `record_key` its pseudonymous key in the audit
-- log, `change_seq` the audit leaf index of the send that stored this version. The record as
-- sent is kept in protobuf (`report`, `program`) and answered as is.

-- Market-opportunity reports from workers abroad, through KP2MI. No personal data: the exchange
-- refuses titles and summaries that look like they hold some.
CREATE TABLE market_reports (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    report_id           TEXT COLLATE "C" NOT NULL UNIQUE,
    record_key          TEXT COLLATE "C" NOT NULL,
    salt                BYTEA NOT NULL,
    digest              BYTEA NOT NULL,
    version             BIGINT NOT NULL,
    country             TEXT COLLATE "C" NOT NULL,
    kind                TEXT COLLATE "C" NOT NULL,
    -- HS codes and their chapters as `|a|b|`; a prefix matches with LIKE '%|p%'.
    hs_codes            TEXT COLLATE "C" NOT NULL,
    hs_chapters         TEXT COLLATE "C" NOT NULL,
    -- Title and summary as words for search, made by the exchange alike for both engines:
    -- lower-case runs of letters and digits, one space between them.
    search_text         TEXT NOT NULL,
    observed_on         TEXT COLLATE "C" NOT NULL,
    report              BYTEA NOT NULL,
    change_seq          BIGINT NOT NULL,
    -- Full-text search: the `simple` configuration stems nothing, and the words are split
    -- already, so Indonesian and English words match as on SQLite.
    text_search         TSVECTOR GENERATED ALWAYS AS (to_tsvector('simple', search_text)) STORED
);
-- Newest first, and the position of a page.
CREATE INDEX market_reports_observed ON market_reports (observed_on, id);
CREATE INDEX market_reports_country ON market_reports (country, observed_on, id);
CREATE INDEX market_reports_text ON market_reports USING GIN (text_search);

-- Export programs published by Kemendag. `areas` holds the province (`PP`) and regency
-- (`PP.KK`) codes where a program runs as `|a|b|`, empty for nationwide.
CREATE TABLE programs (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    program_id  TEXT COLLATE "C" NOT NULL UNIQUE,
    record_key  TEXT COLLATE "C" NOT NULL,
    salt        BYTEA NOT NULL,
    digest      BYTEA NOT NULL,
    version     BIGINT NOT NULL,
    kind        TEXT COLLATE "C" NOT NULL,
    areas       TEXT COLLATE "C" NOT NULL,
    starts_on   TEXT COLLATE "C" NOT NULL,
    ends_on     TEXT COLLATE "C" NOT NULL,
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
    enrollment_id     TEXT COLLATE "C" NOT NULL UNIQUE,
    record_key        TEXT COLLATE "C" NOT NULL,
    salt              BYTEA NOT NULL,
    digest            BYTEA NOT NULL,
    version           BIGINT NOT NULL,
    program_id        TEXT COLLATE "C" NOT NULL,
    subject_key       TEXT COLLATE "C" NOT NULL,
    origin_province   TEXT COLLATE "C" NOT NULL,
    enrolled_on       TEXT COLLATE "C" NOT NULL,
    status            TEXT COLLATE "C" NOT NULL,
    business_started  BOOLEAN NOT NULL,
    export_deals_usd  BIGINT NOT NULL,
    change_seq        BIGINT NOT NULL
);
-- One enrolment per worker and program.
CREATE UNIQUE INDEX enrollments_program_subject ON enrollments (program_id, subject_key);
CREATE INDEX enrollments_subject ON enrollments (subject_key);
