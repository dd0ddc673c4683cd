//! Who may do what, for which purpose: the exchange's access policy in Cedar.
//!
//! - [`schema`]: the Cedar schema built into the program (principals, one action per contract
//!   method and per data class, the request context; health and reflection, decided without a
//!   purpose) and the default policy folder.
//! - [`source`]: a policy folder as read from disk, with the hash that names it.
//! - [`policies`]: a folder parsed and validated against the schema; every policy carries an
//!   `@id` that decisions and audit leaves cite.
//! - [`engine`]: the policies in force, swapped atomically on reload, and decisions with the ids
//!   of the deciding policies and the hash of the set.
//!
//! Deny by default: a request no policy permits is refused, and a `forbid` beats every `permit`.

#![forbid(unsafe_code)]

mod action;
mod decision;
pub mod engine;
mod error;
pub mod policies;
pub mod schema;
pub mod source;

pub use action::{
    DataClass, HEALTH_CHECK, REFLECTION_READ, SERVICE_ACTIONS, method_action, service_action,
};
pub use decision::{Decision, Query, ServiceDecision, ServiceQuery};
pub use engine::Engine;
pub use error::{PolicyError, Problem};
pub use policies::Policies;
pub use source::PolicySource;
