//! Revoking certificates of a PKI folder. `revoked.json` (mode 0600) records every certificate
//! revoked so far (name, serial, reason, time) and the number of the last CRL; `crl.pem` is
//! the folder's CA's signed list of them, written anew with the next CRL number at every
//! revocation and every re-signing. Both are replaced atomically, under a lock
//! (`revoked.lock`), so a re-signing from cron never loses a revocation made meanwhile.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use rcgen::RevocationReason;
use rustls::pki_types::CertificateRevocationListDer;
use rustls::pki_types::pem::PemObject;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::{DevCa, PkiError, pki_dir};

/// File name of the certificate revocation list in a PKI folder.
pub const CRL: &str = "crl.pem";
/// File name of the record of revocations in a PKI folder.
pub const REVOKED: &str = "revoked.json";
/// File name of the lock held while the record and the CRL are rewritten.
const LOCK: &str = "revoked.lock";
/// Days from a CRL's signing to its next update, unless told otherwise.
pub const DEFAULT_NEXT_UPDATE_DAYS: u32 = 7;
/// The most days from a CRL's signing to its next update.
pub const MAX_NEXT_UPDATE_DAYS: u32 = 366;

/// A CRL file's contents as the server reads them (`tls.crls`): PEM when a line of them opens
/// a PEM block (the first `X509 CRL` block is taken; text may come before it, as `openssl crl
/// -text` writes), DER otherwise. Their syntax is checked when the client certificate verifier
/// is built, and by [`crl_dates`].
pub fn crl_der(bytes: Vec<u8>) -> Result<CertificateRevocationListDer<'static>, String> {
    const BEGIN: &[u8] = b"-----BEGIN ";
    let pem = bytes.starts_with(BEGIN)
        || bytes
            .windows(BEGIN.len() + 1)
            .any(|w| w[0] == b'\n' && &w[1..] == BEGIN);
    if pem {
        CertificateRevocationListDer::from_pem_slice(&bytes).map_err(|e| e.to_string())
    } else {
        Ok(CertificateRevocationListDer::from(bytes))
    }
}

/// When a DER CRL was issued (`thisUpdate`) and when its next issue is due (`nextUpdate`,
/// `None` if it names none), Unix seconds: what `jembatan health --details` reports of it.
pub fn crl_dates(der: &[u8]) -> Result<(i64, Option<i64>), String> {
    let (_, crl) = x509_parser::parse_x509_crl(der).map_err(|e| format!("not a CRL: {e}"))?;
    Ok((
        crl.last_update().timestamp(),
        crl.next_update().map(|t| t.timestamp()),
    ))
}

/// Path of `crl.pem` in `dir`.
pub fn crl_path(dir: &Path) -> PathBuf {
    dir.join(CRL)
}

/// Path of `revoked.json` in `dir`.
pub fn revoked_path(dir: &Path) -> PathBuf {
    dir.join(REVOKED)
}

/// Why a certificate was revoked: the RFC 5280 reason codes that apply to a permanent
/// revocation (certificate-hold and remove-from-crl do not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// No reason given; the CRL entry then carries no reason code (RFC 5280 §5.3.1).
    #[default]
    Unspecified,
    /// The certificate's private key is known or suspected to be compromised.
    KeyCompromise,
    /// The CA's key is known or suspected to be compromised.
    CaCompromise,
    /// The subject's name or other information changed.
    AffiliationChanged,
    /// The certificate has been replaced.
    Superseded,
    /// The certificate is no longer needed.
    CessationOfOperation,
    /// A privilege the certificate held has been withdrawn.
    PrivilegeWithdrawn,
    /// The attribute authority's key is known or suspected to be compromised.
    AaCompromise,
}

impl Reason {
    /// Every reason with its kebab-case name.
    pub const ALL: [(Reason, &'static str); 8] = [
        (Reason::Unspecified, "unspecified"),
        (Reason::KeyCompromise, "key-compromise"),
        (Reason::CaCompromise, "ca-compromise"),
        (Reason::AffiliationChanged, "affiliation-changed"),
        (Reason::Superseded, "superseded"),
        (Reason::CessationOfOperation, "cessation-of-operation"),
        (Reason::PrivilegeWithdrawn, "privilege-withdrawn"),
        (Reason::AaCompromise, "aa-compromise"),
    ];

    /// The kebab-case name, e.g. `key-compromise`.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(reason, _)| *reason == self)
            .map_or("unspecified", |(_, name)| name)
    }

    /// The reason code a CRL entry carries: none for [`Reason::Unspecified`].
    pub(crate) fn code(self) -> Option<RevocationReason> {
        match self {
            Reason::Unspecified => None,
            Reason::KeyCompromise => Some(RevocationReason::KeyCompromise),
            Reason::CaCompromise => Some(RevocationReason::CaCompromise),
            Reason::AffiliationChanged => Some(RevocationReason::AffiliationChanged),
            Reason::Superseded => Some(RevocationReason::Superseded),
            Reason::CessationOfOperation => Some(RevocationReason::CessationOfOperation),
            Reason::PrivilegeWithdrawn => Some(RevocationReason::PrivilegeWithdrawn),
            Reason::AaCompromise => Some(RevocationReason::AaCompromise),
        }
    }
}

impl FromStr for Reason {
    type Err = PkiError;

    fn from_str(given: &str) -> Result<Self, PkiError> {
        Self::ALL
            .iter()
            .find(|(_, name)| *name == given)
            .map(|(reason, _)| *reason)
            .ok_or_else(|| PkiError::UnknownReason {
                given: given.to_owned(),
                expected: Self::ALL.map(|(_, name)| name).join(", "),
            })
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A certificate as a CRL lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedCert {
    /// Its serial number, the DER integer's bytes.
    pub serial: Vec<u8>,
    /// When it was revoked.
    pub revoked_at: OffsetDateTime,
    /// Why.
    pub reason: Reason,
}

/// A revoked certificate as `revoked.json` records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revocation {
    /// The file name stem it was issued under (`NAME.pem`).
    pub name: String,
    /// Its serial number, lower-case hex.
    pub serial: String,
    /// Why it was revoked.
    pub reason: Reason,
    /// When it was revoked, RFC 3339 UTC.
    pub revoked_at: String,
}

/// A CRL just written.
#[derive(Debug, Clone)]
pub struct SignedCrl {
    /// Where: `crl.pem` in the folder.
    pub path: PathBuf,
    /// Its CRL number, one more than the last one's.
    pub number: u64,
    /// When it was signed.
    pub this_update: OffsetDateTime,
    /// When it is to be replaced; relying parties may refuse it after.
    pub next_update: OffsetDateTime,
    /// The certificates it lists, oldest revocation first.
    pub revoked: Vec<Revocation>,
}

/// Revokes `NAME.pem` of the folder `dir` (which `ca` is the CA of) and writes `crl.pem` anew,
/// next updated in `next_update_days`. Fails, changing nothing, if the certificate is missing,
/// not issued by `ca`, or revoked already.
pub fn revoke(
    dir: &Path,
    ca: &DevCa,
    name: &str,
    reason: Reason,
    next_update_days: u32,
) -> Result<(Revocation, SignedCrl), PkiError> {
    pki_dir::check_file_name(name)?;
    check_days(next_update_days)?;
    let _lock = lock(dir)?;
    let cert_path = pki_dir::cert_path(dir, name);
    let serial = hex::encode(issued_serial(&cert_path, ca)?);
    let mut record = Record::read(dir)?;
    if let Some(earlier) = record.revoked.iter().find(|r| r.serial == serial) {
        return Err(PkiError::AlreadyRevoked {
            name: name.to_owned(),
            serial,
            since: earlier.revoked_at.clone(),
        });
    }
    let now = now_in_seconds();
    let revocation = Revocation {
        name: name.to_owned(),
        serial,
        reason,
        revoked_at: now
            .format(&Rfc3339)
            .map_err(|e| PkiError::RevocationRecord {
                path: revoked_path(dir),
                reason: format!("revocation time: {e}"),
            })?,
    };
    record.revoked.push(revocation.clone());
    let crl = record.sign_and_write(dir, ca, now, next_update_days)?;
    Ok((revocation, crl))
}

/// Signs `crl.pem` of the folder `dir` anew, with the next CRL number and a next update in
/// `next_update_days`, listing every certificate revoked so far (none in a new folder).
pub fn sign(dir: &Path, ca: &DevCa, next_update_days: u32) -> Result<SignedCrl, PkiError> {
    check_days(next_update_days)?;
    let _lock = lock(dir)?;
    let mut record = Record::read(dir)?;
    record.sign_and_write(dir, ca, now_in_seconds(), next_update_days)
}

/// What `revoked.json` holds.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    /// Number of the last CRL written; 0 before the first.
    crl_number: u64,
    /// Every certificate revoked, oldest first.
    revoked: Vec<Revocation>,
}

impl Record {
    /// Reads `revoked.json`; a folder with neither it nor `crl.pem` has revoked nothing.
    fn read(dir: &Path) -> Result<Self, PkiError> {
        let path = revoked_path(dir);
        let invalid = |reason: String| PkiError::RevocationRecord {
            path: path.clone(),
            reason,
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if crl_path(dir).exists() {
                    return Err(invalid(format!(
                        "missing, but {} exists: restore {REVOKED} from a backup, or every \
                         revocation in {CRL} would be dropped at its next signing",
                        crl_path(dir).display()
                    )));
                }
                return Ok(Self::default());
            }
            Err(source) => return Err(PkiError::Io { path, source }),
        };
        serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))
    }

    /// Signs the CRL of this record with the next CRL number, then replaces `revoked.json`
    /// and `crl.pem`, in that order: a failure between leaves the revocation recorded, and
    /// the next signing lists it.
    fn sign_and_write(
        &mut self,
        dir: &Path,
        ca: &DevCa,
        now: OffsetDateTime,
        next_update_days: u32,
    ) -> Result<SignedCrl, PkiError> {
        let record_path = revoked_path(dir);
        let invalid = |reason: String| PkiError::RevocationRecord {
            path: record_path.clone(),
            reason,
        };
        let number = self
            .crl_number
            .checked_add(1)
            .ok_or_else(|| invalid("crl_number cannot grow any more".into()))?;
        let mut listed = Vec::with_capacity(self.revoked.len());
        for revocation in &self.revoked {
            let serial = hex::decode(&revocation.serial)
                .ok()
                .filter(|serial| !serial.is_empty())
                .ok_or_else(|| {
                    invalid(format!(
                        "{}: serial {:?} is not hex",
                        revocation.name, revocation.serial
                    ))
                })?;
            let revoked_at = OffsetDateTime::parse(&revocation.revoked_at, &Rfc3339)
                .map_err(|e| invalid(format!("{}: revoked_at: {e}", revocation.name)))?;
            listed.push(RevokedCert {
                serial,
                revoked_at,
                reason: revocation.reason,
            });
        }
        let next_update = now + Duration::days(i64::from(next_update_days));
        let pem = ca.sign_crl(&listed, number, now, next_update)?;
        self.crl_number = number;
        let json = serde_json::to_string_pretty(self).map_err(|e| invalid(e.to_string()))?;
        pki_dir::replace(&record_path, format!("{json}\n").as_bytes(), 0o600)?;
        let path = crl_path(dir);
        pki_dir::replace(&path, pem.as_bytes(), 0o644)?;
        Ok(SignedCrl {
            path,
            number,
            this_update: now,
            next_update,
            revoked: self.revoked.clone(),
        })
    }
}

/// The serial of the certificate at `path`, which `ca` must have issued.
fn issued_serial(path: &Path, ca: &DevCa) -> Result<Vec<u8>, PkiError> {
    let text = std::fs::read(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => PkiError::NoCertificate(path.into()),
        _ => PkiError::Io {
            path: path.into(),
            source,
        },
    })?;
    let unparsable = |reason: &str| PkiError::Pem {
        path: path.into(),
        reason: reason.into(),
    };
    let (_, pem) =
        x509_parser::pem::parse_x509_pem(&text).map_err(|_| unparsable("not a PEM certificate"))?;
    let (_, cert) = X509Certificate::from_der(&pem.contents)
        .map_err(|_| unparsable("certificate cannot be parsed"))?;
    let (_, ca_pem) = x509_parser::pem::parse_x509_pem(ca.cert_pem().as_bytes())
        .map_err(|_| PkiError::InvalidName("CA certificate is not PEM".into()))?;
    let (_, ca_cert) = X509Certificate::from_der(&ca_pem.contents)
        .map_err(|_| PkiError::InvalidName("CA certificate cannot be parsed".into()))?;
    // The dev CA signs with ECDSA P-256 and SHA-256 only.
    let ca_key = ring::signature::UnparsedPublicKey::new(
        &ring::signature::ECDSA_P256_SHA256_ASN1,
        &ca_cert.public_key().subject_public_key.data,
    );
    let signed_by_ca = cert.issuer().as_raw() == ca_cert.subject().as_raw()
        && ca_key
            .verify(cert.tbs_certificate.as_ref(), &cert.signature_value.data)
            .is_ok();
    if !signed_by_ca {
        return Err(PkiError::ForeignCertificate(path.into()));
    }
    Ok(cert.raw_serial().to_vec())
}

/// Holds the folder's revocation lock until dropped: one writer of the record at a time.
fn lock(dir: &Path) -> Result<File, PkiError> {
    let path = dir.join(LOCK);
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(PkiError::io(&path))?;
    file.lock().map_err(PkiError::io(&path))?;
    Ok(file)
}

fn check_days(days: u32) -> Result<(), PkiError> {
    if (1..=MAX_NEXT_UPDATE_DAYS).contains(&days) {
        Ok(())
    } else {
        Err(PkiError::NextUpdateDays {
            given: days,
            max: MAX_NEXT_UPDATE_DAYS,
        })
    }
}

/// Now, to the second: what a CRL can say.
fn now_in_seconds() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now - Duration::nanoseconds(i64::from(now.nanosecond()))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::sync::Arc;

    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, UnixTime};
    use rustls::server::WebPkiClientVerifier;
    use x509_parser::num_bigint::BigUint;
    use x509_parser::revocation_list::CertificateRevocationList;

    use super::*;
    use crate::{SpiffeId, TrustDomain};

    /// A folder made by `pki init` with certificates `kemendag` and `kp2mi`.
    fn folder() -> (tempfile::TempDir, DevCa) {
        let dir = tempfile::tempdir().expect("tempdir");
        let td = TrustDomain::new("test.jembatan.local").expect("trust domain");
        pki_dir::init(dir.path(), &td).expect("init");
        let ca = pki_dir::load_ca(dir.path()).expect("load");
        for (name, agency, system) in [
            ("kemendag", "kemendag", "export-portal"),
            ("kp2mi", "kp2mi", "siskop2mi"),
        ] {
            let id = SpiffeId::agency(&td, agency, system).expect("id");
            pki_dir::issue(dir.path(), &ca, name, &id).expect("issue");
        }
        (dir, ca)
    }

    fn der(pem: &[u8]) -> Vec<u8> {
        x509_parser::pem::parse_x509_pem(pem)
            .expect("pem")
            .1
            .contents
    }

    fn crl_der(dir: &Path) -> Vec<u8> {
        der(&std::fs::read(crl_path(dir)).expect("crl.pem"))
    }

    fn parse_crl(der: &[u8]) -> CertificateRevocationList<'_> {
        x509_parser::parse_x509_crl(der).expect("CRL parses").1
    }

    fn serial(dir: &Path, name: &str) -> Vec<u8> {
        let der = der(&std::fs::read(pki_dir::cert_path(dir, name)).expect("cert"));
        X509Certificate::from_der(&der)
            .expect("cert")
            .1
            .raw_serial()
            .to_vec()
    }

    /// The CRL's serials with their reason codes, in order.
    fn listed(crl: &CertificateRevocationList<'_>) -> Vec<(Vec<u8>, Option<u8>)> {
        crl.iter_revoked_certificates()
            .map(|r| {
                (
                    r.raw_serial().to_vec(),
                    r.reason_code().map(|(_, code)| code.0),
                )
            })
            .collect()
    }

    /// Checks the CRL's signature with the CA's public key.
    fn assert_signed_by(crl: &CertificateRevocationList<'_>, ca: &DevCa) {
        let ca_der = der(ca.cert_pem().as_bytes());
        let (_, ca_cert) = X509Certificate::from_der(&ca_der).expect("ca");
        assert_eq!(crl.issuer().as_raw(), ca_cert.subject().as_raw());
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_ASN1,
            &ca_cert.public_key().subject_public_key.data,
        )
        .verify(crl.tbs_cert_list.as_ref(), &crl.signature_value.data)
        .expect("CRL signed by the CA");
    }

    /// What rustls, as the server runs it, says of `name`'s certificate with the folder's CRL.
    fn verify_client(dir: &Path, ca: &DevCa, name: &str) -> Result<(), rustls::Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(der(ca.cert_pem().as_bytes())))
            .expect("root");
        let crl = CertificateRevocationListDer::from_pem_file(crl_path(dir)).expect("crl");
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .with_crls([crl])
            .build()
            .expect("verifier");
        let cert = CertificateDer::from(der(
            &std::fs::read(pki_dir::cert_path(dir, name)).expect("cert")
        ));
        verifier
            .verify_client_cert(&cert, &[], UnixTime::now())
            .map(|_| ())
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    }

    #[test]
    fn init_writes_an_empty_crl_signed_by_the_ca() {
        let (dir, ca) = folder();
        let der = crl_der(dir.path());
        let crl = parse_crl(&der);
        assert_signed_by(&crl, &ca);
        assert_eq!(crl.crl_number(), Some(&BigUint::from(1u8)));
        assert!(listed(&crl).is_empty());
        let days =
            crl.next_update().expect("next update").timestamp() - crl.last_update().timestamp();
        assert_eq!(days, 86_400 * i64::from(DEFAULT_NEXT_UPDATE_DAYS));
        assert_eq!(mode(&crl_path(dir.path())), 0o644);
        assert_eq!(mode(&revoked_path(dir.path())), 0o600);
        verify_client(dir.path(), &ca, "kemendag").expect("nothing revoked yet");
    }

    #[test]
    fn revoked_certificates_are_listed_with_their_reasons_and_refused() {
        let (dir, ca) = folder();
        let (revocation, signed) =
            revoke(dir.path(), &ca, "kemendag", Reason::KeyCompromise, 3).expect("revoke");
        assert_eq!(
            revocation.serial,
            hex::encode(serial(dir.path(), "kemendag"))
        );
        assert_eq!(signed.number, 2);
        let der = crl_der(dir.path());
        let crl = parse_crl(&der);
        assert_signed_by(&crl, &ca);
        assert_eq!(crl.crl_number(), Some(&BigUint::from(2u8)));
        assert_eq!(
            listed(&crl),
            vec![(serial(dir.path(), "kemendag"), Some(1))],
            "key-compromise is reason code 1"
        );
        let this_update = crl.last_update().timestamp();
        assert_eq!(
            crl.next_update().expect("next update").timestamp() - this_update,
            3 * 86_400
        );
        assert!((OffsetDateTime::now_utc().unix_timestamp() - this_update).abs() < 60);
        assert!(matches!(
            verify_client(dir.path(), &ca, "kemendag"),
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::Revoked
            ))
        ));
        verify_client(dir.path(), &ca, "kp2mi").expect("kp2mi is not revoked");

        // A second revocation keeps the first, and an unspecified reason carries no code.
        revoke(dir.path(), &ca, "kp2mi", Reason::Unspecified, 7).expect("revoke kp2mi");
        let der = crl_der(dir.path());
        let crl = parse_crl(&der);
        assert_eq!(crl.crl_number(), Some(&BigUint::from(3u8)));
        assert_eq!(
            listed(&crl),
            vec![
                (serial(dir.path(), "kemendag"), Some(1)),
                (serial(dir.path(), "kp2mi"), None),
            ]
        );
        assert!(verify_client(dir.path(), &ca, "kp2mi").is_err());

        // Re-signing keeps both, with the next number and a fresh next update.
        let signed = sign(dir.path(), &ca, 30).expect("re-sign");
        assert_eq!(signed.number, 4);
        assert_eq!(signed.revoked.len(), 2);
        let der = crl_der(dir.path());
        let crl = parse_crl(&der);
        assert_signed_by(&crl, &ca);
        assert_eq!(crl.crl_number(), Some(&BigUint::from(4u8)));
        assert_eq!(listed(&crl).len(), 2);
        assert_eq!(
            crl.next_update().expect("next update").timestamp() - crl.last_update().timestamp(),
            30 * 86_400
        );
        assert_eq!(mode(&revoked_path(dir.path())), 0o600);
    }

    #[test]
    fn revoking_twice_an_unknown_name_or_a_foreign_certificate_changes_nothing() {
        let (dir, ca) = folder();
        revoke(dir.path(), &ca, "kemendag", Reason::Superseded, 7).expect("revoke");
        let before = std::fs::read(crl_path(dir.path())).expect("crl");

        let err = revoke(dir.path(), &ca, "kemendag", Reason::KeyCompromise, 7)
            .expect_err("revoked twice");
        assert!(matches!(err, PkiError::AlreadyRevoked { .. }), "{err:?}");
        assert!(
            err.to_string().contains("kemendag: already revoked"),
            "{err}"
        );

        let err = revoke(dir.path(), &ca, "nobody", Reason::Unspecified, 7).expect_err("unknown");
        let missing = pki_dir::cert_path(dir.path(), "nobody");
        assert!(
            err.to_string().contains(&missing.display().to_string()),
            "{err}"
        );

        // A certificate of another CA, even one of the same trust domain, is not this CA's.
        let other = DevCa::generate(ca.trust_domain()).expect("other CA");
        let id = SpiffeId::auditor(ca.trust_domain(), "bpk").expect("id");
        pki_dir::write_pair(
            dir.path(),
            "foreign",
            &other.issue_client(&id).expect("issue"),
        )
        .expect("write");
        let err = revoke(dir.path(), &ca, "foreign", Reason::Unspecified, 7).expect_err("foreign");
        assert!(matches!(err, PkiError::ForeignCertificate(_)), "{err:?}");

        for days in [0, MAX_NEXT_UPDATE_DAYS + 1] {
            let err = revoke(dir.path(), &ca, "kp2mi", Reason::Unspecified, days)
                .expect_err("days out of range");
            assert!(matches!(err, PkiError::NextUpdateDays { .. }), "{err:?}");
        }
        assert!(matches!(
            revoke(dir.path(), &ca, "../kp2mi", Reason::Unspecified, 7),
            Err(PkiError::InvalidName(_))
        ));
        assert_eq!(
            std::fs::read(crl_path(dir.path())).expect("crl"),
            before,
            "a refused revocation rewrote the CRL"
        );
    }

    #[test]
    fn a_crl_without_its_record_is_not_signed_anew() {
        let (dir, ca) = folder();
        revoke(dir.path(), &ca, "kemendag", Reason::KeyCompromise, 7).expect("revoke");
        std::fs::remove_file(revoked_path(dir.path())).expect("remove record");
        let err = sign(dir.path(), &ca, 7).expect_err("record missing");
        assert!(err.to_string().contains(REVOKED), "{err}");
        let listed_still = listed(&parse_crl(&crl_der(dir.path()))).len();
        assert_eq!(listed_still, 1, "the revocation was dropped");
    }

    /// Found by the `crl` fuzz target's seeds: a PEM CRL with text before its block (as
    /// `openssl crl -text` writes it) was taken for DER, and refused.
    #[test]
    fn a_crl_file_is_pem_when_a_line_opens_a_block_and_der_otherwise() {
        let (dir, ca) = folder();
        let pem = std::fs::read(crl_path(dir.path())).expect("crl.pem");
        let der = super::crl_der(pem.clone()).expect("PEM");
        assert!(listed(&parse_crl(der.as_ref())).is_empty());
        let mut commented = b"Certificate Revocation List (CRL):\n  Version 2 (0x1)\n".to_vec();
        commented.extend_from_slice(&pem);
        assert_eq!(super::crl_der(commented).expect("PEM after text"), der);
        assert_eq!(super::crl_der(der.to_vec()).expect("DER"), der);
        let dates = crl_dates(der.as_ref()).expect("dates");
        assert_eq!(
            dates.1.expect("next update") - dates.0,
            86_400 * i64::from(DEFAULT_NEXT_UPDATE_DAYS)
        );
        // A PEM file without a CRL block, or with a broken one, is refused as PEM.
        let ca_pem = ca.cert_pem().as_bytes().to_vec();
        assert!(super::crl_der(ca_pem).is_err(), "a certificate, not a CRL");
        assert!(
            super::crl_der(b"-----BEGIN X509 CRL-----\n!!\n-----END X509 CRL-----\n".to_vec())
                .is_err()
        );
        assert!(crl_dates(b"\x30\x03\x02\x01\x01").is_err());
    }

    #[test]
    fn reasons_read_their_rfc_5280_names() {
        for (reason, name) in Reason::ALL {
            assert_eq!(name.parse::<Reason>().expect(name), reason);
            assert_eq!(reason.to_string(), name);
        }
        let err = "keyCompromise".parse::<Reason>().expect_err("camel case");
        assert!(err.to_string().contains("key-compromise"), "{err}");
        assert!("certificate-hold".parse::<Reason>().is_err());
    }
}
