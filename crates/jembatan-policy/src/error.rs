use std::fmt;
use std::path::PathBuf;

/// Errors of loading policies and deciding requests.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// A policy folder or file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The folder or file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A policy folder holds no `*.cedar` file; an empty set would deny everything.
    #[error("no policy files (*.cedar) in {0}")]
    NoPolicies(PathBuf),
    /// The policies do not parse, lack ids, or fail validation against the schema.
    #[error("{} in the policies of {}:{}", count(.problems.len()), .dir.display(), list(.problems))]
    Invalid {
        /// The folder.
        dir: PathBuf,
        /// Every problem found, in file order.
        problems: Vec<Problem>,
    },
    /// The schema built into the program does not parse (a defect of the build).
    #[error("built-in policy schema: {0}")]
    BuiltinSchema(String),
    /// An action that the schema does not declare.
    #[error("action {0:?} is not declared in the policy schema")]
    UnknownAction(String),
    /// A purpose was given for an action decided without one (health, reflection), or none for
    /// an action that needs one.
    #[error("action {0:?} is decided {1}")]
    WrongQuery(String, &'static str),
    /// A request could not be put to the policies.
    #[error("policy request: {0}")]
    Request(String),
}

/// One problem in a policy folder, located as precisely as Cedar tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// File name within the folder.
    pub file: String,
    /// 1-based line and column, when known.
    pub position: Option<(usize, usize)>,
    /// The policy's `@id`, when known.
    pub policy: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some((line, column)) = self.position {
            write!(f, ":{line}:{column}")?;
        }
        if let Some(policy) = &self.policy {
            write!(f, ": policy {policy}")?;
        }
        write!(f, ": {}", self.message)
    }
}

fn count(n: usize) -> String {
    if n == 1 {
        "1 problem".to_owned()
    } else {
        format!("{n} problems")
    }
}

fn list(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("\n  {p}")).collect()
}
