//! C2SP signed-note keys and signatures (Ed25519), byte-compatible with Go's
//! `golang.org/x/mod/sumdb/note` and the transparency-dev ecosystem.
//!
//! - key id: the first 4 bytes of `SHA-256(name || "\n" || 0x01 || public key)`;
//! - verifier key: `<name>+<key id hex>+<base64(0x01 || public key)>`;
//! - signer key: `PRIVATE+KEY+<name>+<key id hex>+<base64(0x01 || seed)>`;
//! - signature line: `— <name> <base64(key id || signature)>\n`, signing the note text.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};

use crate::AuditError;

/// The signed-note algorithm byte of Ed25519.
const ALG_ED25519: u8 = 0x01;
/// The em dash and space that open a signature line.
const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// An Ed25519 signing key with its name.
pub struct SignerKey {
    name: String,
    seed: [u8; 32],
    pair: Ed25519KeyPair,
}

impl SignerKey {
    /// Generates a new key named `name` (for a log, its origin line).
    pub fn generate(name: &str) -> Result<Self, AuditError> {
        let mut seed = [0u8; 32];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut seed)
            .map_err(|_| AuditError::Random)?;
        Self::from_seed(name, seed)
    }

    fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, AuditError> {
        check_name(name)?;
        let pair =
            Ed25519KeyPair::from_seed_unchecked(&seed).map_err(|_| AuditError::MalformedKey {
                what: "signer",
                reason: "not an Ed25519 seed",
            })?;
        Ok(Self {
            name: name.to_owned(),
            seed,
            pair,
        })
    }

    /// Parses `PRIVATE+KEY+<name>+<key id hex>+<base64>`.
    pub fn parse(text: &str) -> Result<Self, AuditError> {
        let malformed = |reason| AuditError::MalformedKey {
            what: "signer",
            reason,
        };
        let rest = text
            .trim_end()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(|| malformed("does not start with PRIVATE+KEY+"))?;
        let (name, id, key) = split_key(rest).ok_or_else(|| malformed("not name+id+key"))?;
        let key = decode_ed25519(key)
            .ok_or_else(|| malformed("key is not base64 of 0x01 and 32 bytes"))?;
        let signer = Self::from_seed(name, key)?;
        if signer.key_id_hex() != id {
            return Err(malformed("key id does not match the key"));
        }
        Ok(signer)
    }

    /// The signer key in its text form. Secret: store it with mode 0600.
    pub fn to_text(&self) -> String {
        format!(
            "PRIVATE+KEY+{}+{}+{}",
            self.name,
            self.key_id_hex(),
            encode_ed25519(&self.seed)
        )
    }

    /// The matching verifier key.
    pub fn verifier(&self) -> VerifierKey {
        let mut public = [0u8; 32];
        public.copy_from_slice(self.pair.public_key().as_ref());
        VerifierKey {
            name: self.name.clone(),
            public,
        }
    }

    /// Signs `text` and returns the signature line, ending in `\n`.
    pub fn sign(&self, text: &str) -> String {
        let signature = self.pair.sign(text.as_bytes());
        let mut blob = key_id(&self.name, self.pair.public_key().as_ref()).to_vec();
        blob.extend_from_slice(signature.as_ref());
        format!("{SIGNATURE_PREFIX}{} {}\n", self.name, BASE64.encode(blob))
    }

    fn key_id_hex(&self) -> String {
        hex::encode(key_id(&self.name, self.pair.public_key().as_ref()))
    }
}

/// An Ed25519 verifier key with its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    public: [u8; 32],
}

impl VerifierKey {
    /// Parses `<name>+<key id hex>+<base64>`.
    pub fn parse(text: &str) -> Result<Self, AuditError> {
        let malformed = |reason| AuditError::MalformedKey {
            what: "verifier",
            reason,
        };
        let (name, id, key) =
            split_key(text.trim_end()).ok_or_else(|| malformed("not name+id+key"))?;
        check_name(name)?;
        let public = decode_ed25519(key)
            .ok_or_else(|| malformed("key is not base64 of 0x01 and 32 bytes"))?;
        let key = Self {
            name: name.to_owned(),
            public,
        };
        if key.key_id_hex() != id {
            return Err(malformed("key id does not match the key"));
        }
        Ok(key)
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The verifier key in its text form.
    pub fn to_text(&self) -> String {
        format!(
            "{}+{}+{}",
            self.name,
            self.key_id_hex(),
            encode_ed25519(&self.public)
        )
    }

    /// Checks a signature line made by this key over `text`.
    pub fn verify(&self, text: &str, signature_line: &str) -> Result<(), AuditError> {
        let rest = signature_line
            .trim_end_matches('\n')
            .strip_prefix(SIGNATURE_PREFIX)
            .ok_or(AuditError::MalformedSignature)?;
        let (name, blob) = rest.split_once(' ').ok_or(AuditError::MalformedSignature)?;
        let blob = BASE64
            .decode(blob)
            .map_err(|_| AuditError::MalformedSignature)?;
        if name != self.name
            || blob.len() != 4 + 64
            || blob[..4] != key_id(&self.name, &self.public)
        {
            return Err(AuditError::BadSignature);
        }
        UnparsedPublicKey::new(&ED25519, &self.public)
            .verify(text.as_bytes(), &blob[4..])
            .map_err(|_| AuditError::BadSignature)
    }

    fn key_id_hex(&self) -> String {
        hex::encode(key_id(&self.name, &self.public))
    }
}

fn key_id(name: &str, public: &[u8]) -> [u8; 4] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(name.as_bytes());
    ctx.update(b"\n");
    ctx.update(&[ALG_ED25519]);
    ctx.update(public);
    let digest = ctx.finish();
    let mut id = [0u8; 4];
    id.copy_from_slice(&digest.as_ref()[..4]);
    id
}

fn check_name(name: &str) -> Result<(), AuditError> {
    if name.is_empty() || name.contains('+') || name.chars().any(char::is_whitespace) {
        return Err(AuditError::InvalidKeyName(name.to_owned()));
    }
    Ok(())
}

/// Splits `name+id+key`, where the name itself holds no `+`.
fn split_key(text: &str) -> Option<(&str, &str, &str)> {
    let mut parts = text.splitn(3, '+');
    let (name, id, key) = (parts.next()?, parts.next()?, parts.next()?);
    (id.len() == 8 && !key.is_empty()).then_some((name, id, key))
}

fn encode_ed25519(key: &[u8; 32]) -> String {
    let mut blob = Vec::with_capacity(33);
    blob.push(ALG_ED25519);
    blob.extend_from_slice(key);
    BASE64.encode(blob)
}

fn decode_ed25519(text: &str) -> Option<[u8; 32]> {
    let blob = BASE64.decode(text).ok()?;
    let (alg, key) = blob.split_first()?;
    if *alg != ALG_ED25519 {
        return None;
    }
    key.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known_answers() -> serde_json::Value {
        // The vendored conformance data, read at run time.
        let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("run by cargo");
        let path = format!("{manifest_dir}/tests/data/rfc6962/known-answers.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).expect("known-answers.json is JSON")
    }

    #[test]
    fn reproduces_the_known_signature_line_byte_for_byte() {
        let answers = known_answers();
        let note = &answers["signed_note"];
        let field = |k: &str| note[k].as_str().expect(k).to_owned();
        let signer = SignerKey::parse(&field("signer_key")).expect("signer key");
        assert_eq!(signer.to_text(), field("signer_key"));
        assert_eq!(signer.verifier().to_text(), field("verifier_key"));
        assert_eq!(signer.sign(&field("text")), field("signature_line"));

        let verifier = VerifierKey::parse(&field("verifier_key")).expect("verifier key");
        verifier
            .verify(&field("text"), &field("signature_line"))
            .expect("verifies");
        assert!(matches!(
            verifier.verify("another text\n", &field("signature_line")),
            Err(AuditError::BadSignature)
        ));
    }

    #[test]
    fn generated_keys_round_trip_and_reject_tampering() {
        let signer = SignerKey::generate("jembatan.dev.jembatan.local/audit").expect("generate");
        let reparsed = SignerKey::parse(&signer.to_text()).expect("parse");
        assert_eq!(reparsed.verifier(), signer.verifier());
        let verifier = VerifierKey::parse(&signer.verifier().to_text()).expect("parse verifier");
        let line = signer.sign("origin\n1\nroot\n");
        verifier
            .verify("origin\n1\nroot\n", &line)
            .expect("verifies");

        let other = SignerKey::generate("jembatan.dev.jembatan.local/audit").expect("generate");
        assert!(
            verifier
                .verify("origin\n1\nroot\n", &other.sign("origin\n1\nroot\n"))
                .is_err()
        );
        let mut text = signer.verifier().to_text();
        text.replace_range(..1, "x");
        assert!(
            VerifierKey::parse(&text).is_err(),
            "renamed key keeps a stale key id"
        );
        assert!(SignerKey::generate("two words").is_err());
    }
}
