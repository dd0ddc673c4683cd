//! Identities and revocation: SPIFFE URIs and certificate revocation lists.

use std::sync::{Arc, OnceLock};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use jembatan_pki::identity::{Principal, SpiffeId, TrustDomain, certificate_fingerprint};
use jembatan_pki::{DevCa, PrincipalKind, Validity, revocation};
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::server::WebPkiClientVerifier;

/// The trust domain of the identity tests.
const TRUST_DOMAIN: &str = "dev.jembatan.local";

/// A CA of [`TRUST_DOMAIN`], made once per run, and its certificate as the only root.
struct Authority {
    ca: DevCa,
    roots: Arc<RootCertStore>,
}

fn authority() -> &'static Authority {
    static AUTHORITY: OnceLock<Authority> = OnceLock::new();
    AUTHORITY.get_or_init(|| {
        let trust_domain = TrustDomain::new(TRUST_DOMAIN).expect("trust domain");
        let ca = DevCa::generate(&trust_domain).expect("a dev CA");
        let mut roots = RootCertStore::empty();
        let der = CertificateDer::from_pem_slice(ca.cert_pem().as_bytes()).expect("CA PEM");
        roots.add(der).expect("the CA as a root");
        Authority {
            ca,
            roots: Arc::new(roots),
        }
    })
}

/// SPIFFE IDs: the input as a URI, parsed for the tests' trust domain and, when its authority
/// is a trust domain, for that one too. An accepted ID displays as the input and is what the
/// builders make of its names. A `spiffe://` URI put in a client certificate's URI SAN (when
/// the CA can put it there) names the same principal, as the server reads it, as the URI alone.
pub fn spiffe(data: &[u8]) {
    let Some(uri) = super::text(data) else {
        return;
    };
    let mut domains = vec![TrustDomain::new(TRUST_DOMAIN).expect("trust domain")];
    if let Some(authority) = uri
        .strip_prefix("spiffe://")
        .and_then(|rest| rest.split('/').next())
        && let Ok(domain) = TrustDomain::new(authority)
        && domain.as_str() != TRUST_DOMAIN
    {
        domains.push(domain);
    }
    for domain in &domains {
        let Ok(id) = SpiffeId::parse(uri, domain) else {
            continue;
        };
        assert_eq!(id.to_string(), uri, "an accepted ID displays as given");
        let built = match id.kind() {
            PrincipalKind::Agency { agency, system } => SpiffeId::agency(domain, agency, system),
            PrincipalKind::Auditor { office } => SpiffeId::auditor(domain, office),
        };
        assert_eq!(built.expect("the builders take its names"), id);
    }
    if !uri.starts_with("spiffe://") {
        return;
    }
    let Ok(issued) = authority()
        .ca
        .issue_client_with_uris(&[uri], Validity::days(1))
    else {
        return;
    };
    let der = CertificateDer::from_pem_slice(issued.cert_pem.as_bytes()).expect("issued PEM");
    for domain in &domains {
        let principal = Principal::from_certificate(&der, domain).ok();
        if let Some(principal) = &principal {
            assert_eq!(principal.cert_fingerprint, certificate_fingerprint(&der));
            assert_eq!(principal.to_string(), uri);
        }
        assert_eq!(
            principal.map(|p| p.id),
            SpiffeId::parse(uri, domain).ok(),
            "the certificate names another principal than its URI"
        );
    }
}

/// CRLs, as the server reads a `tls.crls` file: PEM when a line opens a PEM block, DER
/// otherwise; then parsed by the client certificate verifier (rustls-webpki) and for the
/// dates `jembatan health` reports (x509-parser), as the server does at start and at every
/// reload (it takes the CRL only if both do). Neither panics; anything but PEM is taken as
/// given; a PEM's DER written back as PEM reads as the same DER.
///
/// The two parsers need not agree: the verifier parses the signature's algorithm identifier
/// only when it checks the signature, at a handshake, while x509-parser refuses a malformed one
/// at once (`corpus/crl/regression_unreadable_signature_algorithm`). Such a CRL can never be
/// checked, so that the server refuses it at start or reload is the safe side.
pub fn crl(data: &[u8]) {
    let Ok(der) = revocation::crl_der(data.to_vec()) else {
        return;
    };
    if der.as_ref() != data {
        // Read as PEM: a line opens a block.
        assert!(data.starts_with(b"-----BEGIN ") || contains(data, b"\n-----BEGIN "));
        let again = revocation::crl_der(pem("X509 CRL", &der).into_bytes()).expect("PEM again");
        assert_eq!(again, der, "the PEM's DER written back as PEM");
    }
    let dates = revocation::crl_dates(&der);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::clone(&authority().roots), provider)
            .with_crls([der])
            .build();
    // The server takes the CRL when both do; either may refuse it, with an error, not a panic.
    let _taken = verifier.is_ok() && dates.is_ok();
}

/// `der` as a PEM block of `label`, 64 characters a line.
fn pem(label: &str, der: &[u8]) -> String {
    let base64 = BASE64.encode(der);
    let mut text = format!("-----BEGIN {label}-----\n");
    for line in base64.as_bytes().chunks(64) {
        text.push_str(std::str::from_utf8(line).unwrap_or_default());
        text.push('\n');
    }
    text.push_str(&format!("-----END {label}-----\n"));
    text
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
