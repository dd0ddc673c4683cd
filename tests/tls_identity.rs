//! End-to-end tests of identity over mutual TLS.
