//! The services of the contract whose methods later work implements: every method answers
//! UNIMPLEMENTED (tonic's default stubs) until its implementation replaces the impl here.

use jembatan_proto::v1::{market_intel_service_server, program_service_server};

/// Stands in for the services not implemented yet.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Pending;

impl market_intel_service_server::MarketIntelService for Pending {}
impl program_service_server::ProgramService for Pending {}
