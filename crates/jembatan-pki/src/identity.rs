//! Caller identity: the SPIFFE ID in a client certificate's URI SAN.
//!
//! Accepted forms, for the configured trust domain only:
//! - `spiffe://<trust-domain>/agency/<agency>/<system>`: an agency's system (KP2MI, Kemendag, …);
//! - `spiffe://<trust-domain>/auditor/<office>`: an auditor's office.
//!
//! Names are 1 to 63 characters of lower-case ASCII letters, digits and `-`, starting with a
//! letter or digit. A certificate must carry exactly one URI SAN.

use std::fmt;

use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

pub use jembatan_domain::PrincipalKind;

/// Why a certificate does not name a caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The connection carried no client certificate.
    #[error("no client certificate")]
    NoCertificate,
    /// The certificate is not valid DER X.509.
    #[error("client certificate cannot be parsed")]
    Unparsable,
    /// The certificate has no URI subject alternative name.
    #[error("client certificate has no URI SAN")]
    NoUriSan,
    /// The certificate has more than one URI subject alternative name.
    #[error("client certificate has {0} URI SANs; exactly one is allowed")]
    SeveralUriSans(usize),
    /// The URI SAN is not a SPIFFE ID of an accepted form.
    #[error("URI SAN {uri:?} is not a valid identity: {reason}")]
    Malformed {
        /// The URI SAN as found.
        uri: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The SPIFFE ID belongs to another trust domain.
    #[error("URI SAN {uri:?} is not in trust domain {expected:?}")]
    ForeignTrustDomain {
        /// The URI SAN as found.
        uri: String,
        /// The trust domain this exchange serves.
        expected: String,
    },
}

/// A SPIFFE trust domain, e.g. `dev.jembatan.local`: lower-case letters, digits, `.`, `-`, `_`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TrustDomain(String);

impl TrustDomain {
    /// Validates a trust domain name.
    pub fn new(name: &str) -> Result<Self, crate::PkiError> {
        let valid = !name.is_empty()
            && name.len() <= 255
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
        if valid {
            Ok(Self(name.to_owned()))
        } else {
            Err(crate::PkiError::InvalidName(format!(
                "trust domain {name:?} must be 1 to 255 characters of a-z, 0-9, '.', '-', '_'"
            )))
        }
    }

    /// The trust domain's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TrustDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A SPIFFE ID of one of the accepted forms.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SpiffeId {
    trust_domain: TrustDomain,
    kind: PrincipalKind,
}

impl SpiffeId {
    /// `spiffe://<trust-domain>/agency/<agency>/<system>`.
    pub fn agency(
        trust_domain: &TrustDomain,
        agency: &str,
        system: &str,
    ) -> Result<Self, crate::PkiError> {
        for (what, name) in [("agency", agency), ("system", system)] {
            check_name(name).map_err(|reason| {
                crate::PkiError::InvalidName(format!("{what} {name:?}: {reason}"))
            })?;
        }
        Ok(Self {
            trust_domain: trust_domain.clone(),
            kind: PrincipalKind::Agency {
                agency: agency.to_owned(),
                system: system.to_owned(),
            },
        })
    }

    /// `spiffe://<trust-domain>/auditor/<office>`.
    pub fn auditor(trust_domain: &TrustDomain, office: &str) -> Result<Self, crate::PkiError> {
        check_name(office).map_err(|reason| {
            crate::PkiError::InvalidName(format!("office {office:?}: {reason}"))
        })?;
        Ok(Self {
            trust_domain: trust_domain.clone(),
            kind: PrincipalKind::Auditor {
                office: office.to_owned(),
            },
        })
    }

    /// Parses a URI and checks it against the expected trust domain.
    pub fn parse(uri: &str, expected: &TrustDomain) -> Result<Self, IdentityError> {
        let malformed = |reason| IdentityError::Malformed {
            uri: uri.to_owned(),
            reason,
        };
        let rest = uri
            .strip_prefix("spiffe://")
            .ok_or_else(|| malformed("scheme is not spiffe"))?;
        let (domain, path) = rest.split_once('/').ok_or_else(|| malformed("no path"))?;
        if domain != expected.as_str() {
            return Err(IdentityError::ForeignTrustDomain {
                uri: uri.to_owned(),
                expected: expected.to_string(),
            });
        }
        let segments: Vec<&str> = path.split('/').collect();
        let kind = match segments.as_slice() {
            ["agency", agency, system] => {
                check_name(agency).map_err(malformed)?;
                check_name(system).map_err(malformed)?;
                PrincipalKind::Agency {
                    agency: (*agency).to_owned(),
                    system: (*system).to_owned(),
                }
            }
            ["auditor", office] => {
                check_name(office).map_err(malformed)?;
                PrincipalKind::Auditor {
                    office: (*office).to_owned(),
                }
            }
            _ => {
                return Err(malformed(
                    "path is neither /agency/<agency>/<system> nor /auditor/<office>",
                ));
            }
        };
        Ok(Self {
            trust_domain: expected.clone(),
            kind,
        })
    }

    /// The kind of caller this ID names.
    pub fn kind(&self) -> &PrincipalKind {
        &self.kind
    }
}

impl fmt::Display for SpiffeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            PrincipalKind::Agency { agency, system } => {
                write!(f, "spiffe://{}/agency/{agency}/{system}", self.trust_domain)
            }
            PrincipalKind::Auditor { office } => {
                write!(f, "spiffe://{}/auditor/{office}", self.trust_domain)
            }
        }
    }
}

fn check_name(name: &str) -> Result<(), &'static str> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() > 63 {
        return Err("a name must be 1 to 63 characters");
    }
    if bytes[0] == b'-' {
        return Err("a name must not start with '-'");
    }
    if !bytes
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
    {
        return Err("a name may hold only a-z, 0-9 and '-'");
    }
    Ok(())
}

/// An authenticated caller: the identity in its certificate and the certificate's fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Principal {
    /// The caller's SPIFFE ID.
    pub id: SpiffeId,
    /// SHA-256 of the certificate's DER encoding, lower-case hex.
    pub cert_fingerprint: String,
}

impl Principal {
    /// Reads the principal from a DER certificate that TLS has already verified.
    pub fn from_certificate(der: &[u8], trust_domain: &TrustDomain) -> Result<Self, IdentityError> {
        let (_, cert) = X509Certificate::from_der(der).map_err(|_| IdentityError::Unparsable)?;
        let san = cert
            .subject_alternative_name()
            .map_err(|_| IdentityError::Unparsable)?;
        let uris: Vec<&str> = san
            .map(|ext| {
                ext.value
                    .general_names
                    .iter()
                    .filter_map(|name| match name {
                        GeneralName::URI(uri) => Some(*uri),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let uri = match uris.as_slice() {
            [] => return Err(IdentityError::NoUriSan),
            [uri] => *uri,
            several => return Err(IdentityError::SeveralUriSans(several.len())),
        };
        let id = SpiffeId::parse(uri, trust_domain)?;
        Ok(Self {
            id,
            cert_fingerprint: certificate_fingerprint(der),
        })
    }

    /// The kind of caller.
    pub fn kind(&self) -> &PrincipalKind {
        self.id.kind()
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.id.fmt(f)
    }
}

/// SHA-256 of a certificate's DER encoding, lower-case hex: how the audit log names a
/// certificate.
pub fn certificate_fingerprint(data: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, data);
    hex::encode(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn td() -> TrustDomain {
        TrustDomain::new("dev.jembatan.local").expect("valid trust domain")
    }

    #[test]
    fn parses_agency_and_auditor_ids() {
        let id = SpiffeId::parse("spiffe://dev.jembatan.local/agency/kp2mi/siskop2mi", &td())
            .expect("valid agency id");
        assert_eq!(
            id.kind(),
            &PrincipalKind::Agency {
                agency: "kp2mi".into(),
                system: "siskop2mi".into()
            }
        );
        assert_eq!(
            id.to_string(),
            "spiffe://dev.jembatan.local/agency/kp2mi/siskop2mi"
        );
        let id = SpiffeId::parse("spiffe://dev.jembatan.local/auditor/bpk", &td())
            .expect("valid auditor id");
        assert_eq!(
            id.kind(),
            &PrincipalKind::Auditor {
                office: "bpk".into()
            }
        );
    }

    #[test]
    fn rejects_malformed_ids() {
        for uri in [
            "https://dev.jembatan.local/agency/kp2mi/siskop2mi",
            "spiffe://dev.jembatan.local",
            "spiffe://dev.jembatan.local/agency/kp2mi",
            "spiffe://dev.jembatan.local/agency/kp2mi/siskop2mi/extra",
            "spiffe://dev.jembatan.local/agency/KP2MI/siskop2mi",
            "spiffe://dev.jembatan.local/agency//siskop2mi",
            "spiffe://dev.jembatan.local/agency/-x/siskop2mi",
            "spiffe://dev.jembatan.local/operator/root",
            "spiffe://dev.jembatan.local/auditor/bpk?x=1",
        ] {
            let err = SpiffeId::parse(uri, &td()).expect_err(uri);
            assert!(
                matches!(err, IdentityError::Malformed { .. }),
                "{uri}: {err:?}"
            );
        }
    }

    #[test]
    fn rejects_foreign_trust_domain() {
        let err = SpiffeId::parse("spiffe://evil.example/agency/kp2mi/siskop2mi", &td())
            .expect_err("foreign trust domain");
        assert!(matches!(err, IdentityError::ForeignTrustDomain { .. }));
    }

    #[test]
    fn builders_validate_names() {
        assert!(SpiffeId::agency(&td(), "kemendag", "export-portal").is_ok());
        assert!(SpiffeId::agency(&td(), "Kemendag", "export-portal").is_err());
        assert!(SpiffeId::auditor(&td(), "").is_err());
        assert!(TrustDomain::new("Dev.Local").is_err());
    }
}
