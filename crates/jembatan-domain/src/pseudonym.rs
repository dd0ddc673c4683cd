//! Subject keys and pairwise pseudonyms.
//!
//! The exchange never keeps a NIK: it keeps the *subject key*, HMAC-SHA-256 of the NIK under a
//! key only the exchange holds, so that KP2MI's later requests about the same worker (consent
//! withdrawal, erasure, "who saw my data") find the worker's records. Recipients see a
//! *pairwise pseudonym*, HMAC-SHA-256 of the subject key under a key derived for the recipient
//! agency: stable for one agency, and two agencies cannot join their views.
//!
//! Both HMAC keys are derived from one 32-byte secret, the personal-data key, kept in a file
//! as 64 hex digits (`[placements] key`). Losing it unlinks every stored record from its
//! worker; changing it changes every pseudonym.

use ring::hmac;

use crate::DomainError;

/// Length of the secret in bytes.
const SECRET_LEN: usize = 32;

/// The exchange's personal-data key: makes subject keys and pseudonyms.
#[derive(Clone)]
pub struct PersonalDataKey {
    subject: hmac::Key,
    pseudonym: hmac::Key,
    counts: [u8; 32],
}

impl std::fmt::Debug for PersonalDataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PersonalDataKey(..)")
    }
}

impl PersonalDataKey {
    /// The key from its 32-byte secret.
    pub fn from_secret(secret: &[u8; SECRET_LEN]) -> Self {
        let root = hmac::Key::new(hmac::HMAC_SHA256, secret);
        let derive =
            |label: &[u8]| hmac::Key::new(hmac::HMAC_SHA256, hmac::sign(&root, label).as_ref());
        let mut counts = [0u8; 32];
        counts.copy_from_slice(hmac::sign(&root, b"jembatan count keys v1").as_ref());
        Self {
            subject: derive(b"jembatan subject key v1"),
            pseudonym: derive(b"jembatan pseudonym v1"),
            counts,
        }
    }

    /// Parses the key file's text: 64 hex digits, surrounding white space ignored.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let text = text.trim();
        if text.len() != SECRET_LEN * 2 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(DomainError::InvalidKey(
                "a personal-data key is 64 hex digits (32 bytes)",
            ));
        }
        let mut secret = [0u8; SECRET_LEN];
        hex::decode_to_slice(text, &mut secret).map_err(|_| DomainError::InvalidKey("not hex"))?;
        Ok(Self::from_secret(&secret))
    }

    /// A new random key file's text (64 hex digits and a newline).
    pub fn generate() -> Result<String, DomainError> {
        let mut secret = [0u8; SECRET_LEN];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut secret)
            .map_err(|_| DomainError::InvalidKey("the system's random source failed"))?;
        Ok(format!("{}\n", hex::encode(secret)))
    }

    /// The subject key of a worker's NIK, 64 hex digits.
    pub fn subject_key(&self, nik: &str) -> String {
        hex::encode(hmac::sign(&self.subject, nik.as_bytes()))
    }

    /// The secret from which counts derive each worker's pseudo-random key (the cell-key
    /// method): the same for every exchange process with this key, never stored.
    pub fn count_secret(&self) -> &[u8; 32] {
        &self.counts
    }

    /// The pseudonym under which `recipient` (an agency, e.g. `kemendag`) sees the worker with
    /// `subject_key`: 32 hex digits.
    pub fn pseudonym(&self, recipient: &str, subject_key: &str) -> String {
        let recipient_key = hmac::Key::new(
            hmac::HMAC_SHA256,
            hmac::sign(&self.pseudonym, recipient.as_bytes()).as_ref(),
        );
        let tag = hmac::sign(&recipient_key, subject_key.as_bytes());
        hex::encode(&tag.as_ref()[..16])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> PersonalDataKey {
        PersonalDataKey::from_secret(&[byte; SECRET_LEN])
    }

    #[test]
    fn subject_keys_are_stable_and_keyed() {
        let nik = "3507014508900001";
        assert_eq!(key(1).subject_key(nik), key(1).subject_key(nik));
        assert_ne!(key(1).subject_key(nik), key(2).subject_key(nik));
        assert_ne!(
            key(1).subject_key(nik),
            key(1).subject_key("3507014508900002")
        );
        assert_eq!(key(1).subject_key(nik).len(), 64);
        assert!(!key(1).subject_key(nik).contains(nik));
    }

    #[test]
    fn pseudonyms_are_stable_per_recipient_and_differ_across_recipients() {
        let subject = key(1).subject_key("3507014508900001");
        let kemendag = key(1).pseudonym("kemendag", &subject);
        assert_eq!(kemendag, key(1).pseudonym("kemendag", &subject));
        assert_ne!(kemendag, key(1).pseudonym("bappenas", &subject));
        assert_ne!(kemendag, key(2).pseudonym("kemendag", &subject));
        assert_ne!(kemendag, subject[..32]);
        assert_eq!(kemendag.len(), 32);
    }

    #[test]
    fn key_files_parse_and_bad_ones_are_refused() {
        let text = PersonalDataKey::generate().expect("generate");
        let parsed = PersonalDataKey::parse(&text).expect("parse");
        assert_eq!(
            parsed.subject_key("x"),
            PersonalDataKey::parse(&text)
                .expect("parse")
                .subject_key("x")
        );
        assert!(PersonalDataKey::parse("abc").is_err());
        assert!(PersonalDataKey::parse(&"zz".repeat(32)).is_err());
        assert_eq!(
            PersonalDataKey::parse(&"01".repeat(32))
                .expect("hex")
                .subject_key("x"),
            key(1).subject_key("x")
        );
    }
}
