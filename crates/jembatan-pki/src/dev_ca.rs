//! A certificate authority for development and tests: ECDSA P-256, issuing the server
//! certificate and SPIFFE client certificates. Production deployments bring their own CA; the
//! exchange only needs its bundle.

use std::net::IpAddr;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose,
    PKCS_ECDSA_P256_SHA256, RevokedCertParams, SanType, SerialNumber,
};
use time::{Duration, OffsetDateTime};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::revocation::{Reason, RevokedCert};
use crate::{PkiError, SpiffeId, TrustDomain};

/// A certificate and its private key, both PEM.
#[derive(Debug, Clone)]
pub struct IssuedCert {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The PKCS#8 private key, PEM.
    pub key_pem: String,
}

/// When a certificate is valid.
#[derive(Debug, Clone, Copy)]
pub struct Validity {
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
}

impl Validity {
    /// From an hour ago (tolerating clock skew) until `days` days from now.
    pub fn days(days: i64) -> Self {
        let now = OffsetDateTime::now_utc();
        Self {
            not_before: now - Duration::hours(1),
            not_after: now + Duration::days(days),
        }
    }
}

/// Validity of dev client and server certificates.
const LEAF_DAYS: i64 = 397;
/// Validity of the dev CA.
const CA_DAYS: i64 = 3650;

/// A development certificate authority whose certificate names its trust domain as the URI SAN
/// `spiffe://<trust-domain>`.
pub struct DevCa {
    trust_domain: TrustDomain,
    cert_pem: String,
    key_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl DevCa {
    /// Generates a new CA for a trust domain.
    pub fn generate(trust_domain: &TrustDomain) -> Result<Self, PkiError> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Jembatan development");
        params.distinguished_name.push(
            DnType::CommonName,
            format!("Jembatan dev CA {trust_domain}"),
        );
        params.subject_alt_names =
            vec![SanType::URI(format!("spiffe://{trust_domain}").try_into()?)];
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        set_validity(&mut params, Validity::days(CA_DAYS))?;
        let cert = params.self_signed(&key)?;
        let cert_pem = cert.pem();
        let key_pem = key.serialize_pem();
        let issuer = Issuer::new(params, key);
        Ok(Self {
            trust_domain: trust_domain.clone(),
            cert_pem,
            key_pem,
            issuer,
        })
    }

    /// Loads a CA made by [`DevCa::generate`] from its PEM certificate and key.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, PkiError> {
        let key = KeyPair::from_pem(key_pem)?;
        let trust_domain = trust_domain_of(cert_pem)?;
        let issuer = Issuer::from_ca_cert_pem(cert_pem, key)?;
        Ok(Self {
            trust_domain,
            cert_pem: cert_pem.to_owned(),
            key_pem: key_pem.to_owned(),
            issuer,
        })
    }

    /// The trust domain this CA issues identities for.
    pub fn trust_domain(&self) -> &TrustDomain {
        &self.trust_domain
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA private key, PEM.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// Issues a TLS server certificate for DNS names and IP addresses.
    pub fn issue_server(&self, dns_names: &[&str], ips: &[IpAddr]) -> Result<IssuedCert, PkiError> {
        let mut sans = Vec::with_capacity(dns_names.len() + ips.len());
        for name in dns_names {
            sans.push(SanType::DnsName((*name).try_into()?));
        }
        sans.extend(ips.iter().map(|ip| SanType::IpAddress(*ip)));
        let common_name = dns_names.first().copied().unwrap_or("jembatan");
        self.issue(
            common_name,
            sans,
            ExtendedKeyUsagePurpose::ServerAuth,
            Validity::days(LEAF_DAYS),
        )
    }

    /// Issues a client certificate for a SPIFFE ID.
    pub fn issue_client(&self, id: &SpiffeId) -> Result<IssuedCert, PkiError> {
        self.issue_client_with_uris(&[id.to_string().as_str()], Validity::days(LEAF_DAYS))
    }

    /// Issues a client certificate with arbitrary URI SANs (none, malformed, foreign) and
    /// validity: for tests of how the exchange treats such certificates.
    pub fn issue_client_with_uris(
        &self,
        uris: &[&str],
        validity: Validity,
    ) -> Result<IssuedCert, PkiError> {
        let mut sans = Vec::with_capacity(uris.len());
        for uri in uris {
            sans.push(SanType::URI((*uri).try_into()?));
        }
        let common_name = uris.first().copied().unwrap_or("jembatan client");
        self.issue(
            common_name,
            sans,
            ExtendedKeyUsagePurpose::ClientAuth,
            validity,
        )
    }

    /// A certificate revocation list, PEM, revoking `revoked` (certificates this CA issued)
    /// for key compromise, valid for 7 days.
    pub fn revocation_list(&self, revoked: &[&IssuedCert]) -> Result<String, PkiError> {
        let now = OffsetDateTime::now_utc();
        let mut revoked_certs = Vec::with_capacity(revoked.len());
        for issued in revoked {
            revoked_certs.push(RevokedCert {
                serial: certificate_serial(&issued.cert_pem)?,
                revoked_at: now,
                reason: Reason::KeyCompromise,
            });
        }
        self.sign_crl(
            &revoked_certs,
            now.unix_timestamp().unsigned_abs(),
            now - Duration::minutes(5),
            now + Duration::days(7),
        )
    }

    /// Signs a certificate revocation list, PEM, listing `revoked`, with CRL number `number`.
    /// `next_update` must be later than `this_update`.
    pub fn sign_crl(
        &self,
        revoked: &[RevokedCert],
        number: u64,
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
    ) -> Result<String, PkiError> {
        let revoked_certs = revoked
            .iter()
            .map(|cert| RevokedCertParams {
                serial_number: SerialNumber::from_slice(&cert.serial),
                revocation_time: cert.revoked_at,
                reason_code: cert.reason.code(),
                invalidity_date: None,
            })
            .collect();
        let params = CertificateRevocationListParams {
            this_update,
            next_update,
            crl_number: SerialNumber::from(number),
            issuing_distribution_point: None,
            revoked_certs,
            key_identifier_method: KeyIdMethod::Sha256,
        };
        Ok(params.signed_by(&self.issuer)?.pem()?)
    }

    fn issue(
        &self,
        common_name: &str,
        sans: Vec<SanType>,
        usage: ExtendedKeyUsagePurpose,
        validity: Validity,
    ) -> Result<IssuedCert, PkiError> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.subject_alt_names = sans;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![usage];
        params.use_authority_key_identifier_extension = true;
        set_validity(&mut params, validity)?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(IssuedCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// The serial number of a PEM certificate, as its DER integer bytes.
pub(crate) fn certificate_serial(cert_pem: &str) -> Result<Vec<u8>, PkiError> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes())
        .map_err(|_| PkiError::InvalidName("revoked certificate is not PEM".into()))?;
    let (_, cert) = X509Certificate::from_der(&pem.contents)
        .map_err(|_| PkiError::InvalidName("revoked certificate cannot be parsed".into()))?;
    Ok(cert.raw_serial().to_vec())
}

fn set_validity(params: &mut CertificateParams, validity: Validity) -> Result<(), PkiError> {
    params.not_before = validity.not_before;
    params.not_after = validity.not_after;
    let mut serial = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut serial)
        .map_err(|_| PkiError::InvalidName("system random number generator failed".into()))?;
    serial[0] &= 0x7f; // positive
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    Ok(())
}

fn trust_domain_of(cert_pem: &str) -> Result<TrustDomain, PkiError> {
    let not_dev_ca = || {
        PkiError::InvalidName(
            "CA certificate has no spiffe://<trust-domain> URI SAN; it was not made by jembatan pki init"
                .into(),
        )
    };
    let (_, pem) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes())
        .map_err(|_| PkiError::InvalidName("CA certificate is not PEM".into()))?;
    let (_, cert) = X509Certificate::from_der(&pem.contents)
        .map_err(|_| PkiError::InvalidName("CA certificate cannot be parsed".into()))?;
    let san = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .ok_or_else(not_dev_ca)?;
    let domain = san
        .value
        .general_names
        .iter()
        .find_map(|name| match name {
            GeneralName::URI(uri) => uri.strip_prefix("spiffe://"),
            _ => None,
        })
        .ok_or_else(not_dev_ca)?;
    TrustDomain::new(domain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Principal;

    #[test]
    fn reloaded_ca_keeps_trust_domain_and_issues_verifiable_identities() {
        let td = TrustDomain::new("test.jembatan.local").expect("trust domain");
        let ca = DevCa::generate(&td).expect("generate");
        let reloaded = DevCa::from_pem(ca.cert_pem(), ca.key_pem()).expect("reload");
        assert_eq!(reloaded.trust_domain(), &td);

        let id = SpiffeId::agency(&td, "kemendag", "export-portal").expect("id");
        let issued = reloaded.issue_client(&id).expect("issue");
        let (_, pem) = x509_parser::pem::parse_x509_pem(issued.cert_pem.as_bytes()).expect("pem");
        let principal = Principal::from_certificate(&pem.contents, &td).expect("principal");
        assert_eq!(principal.id, id);
        assert_eq!(principal.cert_fingerprint.len(), 64);
    }

    #[test]
    fn certificates_without_exactly_one_uri_san_have_no_identity() {
        let td = TrustDomain::new("test.jembatan.local").expect("trust domain");
        let ca = DevCa::generate(&td).expect("generate");
        let none = ca
            .issue_client_with_uris(&[], Validity::days(1))
            .expect("issue");
        let two = ca
            .issue_client_with_uris(
                &[
                    "spiffe://test.jembatan.local/auditor/a",
                    "spiffe://test.jembatan.local/auditor/b",
                ],
                Validity::days(1),
            )
            .expect("issue");
        for (issued, want) in [
            (none, crate::IdentityError::NoUriSan),
            (two, crate::IdentityError::SeveralUriSans(2)),
        ] {
            let (_, pem) =
                x509_parser::pem::parse_x509_pem(issued.cert_pem.as_bytes()).expect("pem");
            assert_eq!(Principal::from_certificate(&pem.contents, &td), Err(want));
        }
    }
}
