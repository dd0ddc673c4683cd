//! End-to-end tests of store bootstrap on SQLite and PostgreSQL.
