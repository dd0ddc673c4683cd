use std::fmt;
use std::path::PathBuf;

use crate::StoreError;

/// Where the store lives: an SQLite file or a PostgreSQL URL.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// An SQLite database file.
    Sqlite(PathBuf),
    /// A `postgres://` or `postgresql://` URL.
    Postgres(String),
}

impl StoreLocation {
    /// Parses `sqlite://PATH` or a `postgres://` URL.
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() || path.contains('?') {
                return Err(StoreError::InvalidLocation(url.to_owned()));
            }
            return Ok(Self::Sqlite(path.into()));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_owned()));
        }
        Err(StoreError::InvalidLocation(url.to_owned()))
    }
}

impl fmt::Display for StoreLocation {
    /// Shows the location without a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            Self::Postgres(url) => match (url.find("://"), url.rfind('@')) {
                (Some(scheme_end), Some(at)) if at > scheme_end => {
                    let userinfo = &url[scheme_end + 3..at];
                    let user = userinfo.split(':').next().unwrap_or_default();
                    write!(f, "{}{user}{}", &url[..scheme_end + 3], &url[at..])
                }
                _ => f.write_str(url),
            },
        }
    }
}

impl fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_locations() {
        assert_eq!(
            StoreLocation::parse("sqlite://jembatan.db").expect("relative"),
            StoreLocation::Sqlite("jembatan.db".into())
        );
        assert_eq!(
            StoreLocation::parse("sqlite:///var/lib/j.db").expect("absolute"),
            StoreLocation::Sqlite("/var/lib/j.db".into())
        );
        assert!(StoreLocation::parse("mysql://x").is_err());
        assert!(StoreLocation::parse("sqlite://").is_err());
    }

    #[test]
    fn display_hides_the_password() {
        let loc = StoreLocation::parse("postgres://app:s3cret@db:5432/jembatan").expect("postgres");
        assert_eq!(loc.to_string(), "postgres://app@db:5432/jembatan");
    }
}
