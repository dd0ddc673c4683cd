//! The tasks that run beside the calls for as long as the exchange serves:
//! - [`sequencer`]: integrates committed leaves into the Merkle tree and signs checkpoints;
//! - [`policy_reload`]: reloads the policy folder on SIGHUP and when its files change;
//! - [`count_refresh`]: keeps the count index current with the change sequence;
//! - [`tls_reload`]: reloads the CA bundle and CRLs on SIGHUP and when their files change;
//! - [`refusal_log`]: writes the leaves of calls refused for a limit, one per principal and
//!   window.

pub(crate) mod count_refresh;
pub(crate) mod policy_reload;
pub(crate) mod refusal_log;
pub(crate) mod sequencer;
pub(crate) mod tls_reload;
