//! Who acts behind a client command: the caller's case reference and operator, logged with
//! every call it makes (`jembatan-case-ref`, `jembatan-operator`).

use jembatan_client::Stated;
use jembatan_domain::{LegalBasis, Purpose};

/// `--case-ref` and `--operator`.
#[derive(Debug, clap::Args)]
pub(crate) struct ActingArgs {
    /// Your case or letter number, logged with every call.
    #[arg(long)]
    case_ref: Option<String>,
    /// Your pseudonymous operator id, logged with every call.
    #[arg(long)]
    operator: Option<String>,
}

impl ActingArgs {
    /// What a call states: `purpose` and `legal_basis`, and who acts.
    pub(crate) fn stated(&self, purpose: Purpose, legal_basis: LegalBasis) -> Stated {
        let mut stated = Stated::new(purpose, legal_basis);
        stated.case_ref = self.case_ref.clone();
        stated.operator = self.operator.clone();
        stated
    }
}
