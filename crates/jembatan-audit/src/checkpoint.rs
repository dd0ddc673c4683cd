//! Checkpoints: the C2SP `tlog-checkpoint` note that commits a log to its size and root, signed
//! by the log and cosigned by witnesses.
//!
//! ```text
//! jembatan.exchange.go.id/audit      origin: names the log
//! 1234                               tree size, decimal
//! 3q2+7w…=                           root hash, base64
//!                                    blank line
//! — jembatan.exchange.go.id/audit …  the log's signature line
//! — kemendag-witness …               cosignatures: the same text signed by witnesses' keys
//! ```

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::AuditError;
use crate::merkle::Hash;
use crate::note::{SignerKey, VerifierKey};

/// A log's size and root under its origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line, e.g. `jembatan.exchange.go.id/audit`.
    pub origin: String,
    /// Number of leaves.
    pub size: u64,
    /// RFC 6962 root of those leaves.
    pub root: Hash,
}

impl Checkpoint {
    /// The note text that is signed: origin, size and base64 root, each ending in `\n`.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root)
        )
    }

    /// Parses a note text. Extension lines after the root are not accepted: this log writes none.
    pub fn parse_body(text: &str) -> Result<Self, AuditError> {
        let malformed = AuditError::MalformedCheckpoint;
        let lines = text
            .strip_suffix('\n')
            .ok_or(malformed("the text does not end in a newline"))?;
        let mut lines = lines.split('\n');
        let (Some(origin), Some(size), Some(root), None) =
            (lines.next(), lines.next(), lines.next(), lines.next())
        else {
            return Err(malformed("expected exactly origin, size and root lines"));
        };
        if origin.is_empty() || origin.chars().any(char::is_control) {
            return Err(malformed(
                "the origin line is empty or holds control characters",
            ));
        }
        let canonical = size == "0" || (!size.starts_with('0') && !size.is_empty());
        let size = size
            .parse::<u64>()
            .ok()
            .filter(|_| canonical && size.bytes().all(|b| b.is_ascii_digit()))
            .ok_or(malformed(
                "the size is not a decimal number without leading zeros",
            ))?;
        let root = BASE64
            .decode(root)
            .ok()
            .and_then(|bytes| Hash::try_from(bytes).ok())
            .ok_or(malformed("the root is not base64 of 32 bytes"))?;
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
        })
    }

    /// Signs the checkpoint with the log's key.
    pub fn sign(&self, key: &SignerKey) -> SignedNote {
        let text = self.body();
        let signature = key.sign(&text);
        SignedNote {
            text,
            signatures: vec![signature],
        }
    }
}

/// A note text with its signature lines, as exchanged and stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedNote {
    /// The signed text, ending in `\n`.
    pub text: String,
    /// Signature lines, each `— <name> <base64>\n`.
    pub signatures: Vec<String>,
}

impl SignedNote {
    /// Parses `text`, a blank line, and one or more signature lines.
    pub fn parse(note: &str) -> Result<Self, AuditError> {
        let malformed = AuditError::MalformedCheckpoint;
        let (text, signatures) = note
            .split_once("\n\n")
            .ok_or(malformed("no blank line before the signatures"))?;
        let signatures: Vec<String> = signatures
            .strip_suffix('\n')
            .ok_or(malformed("the signatures do not end in a newline"))?
            .split('\n')
            .map(|line| format!("{line}\n"))
            .collect();
        if signatures.iter().any(|line| !line.starts_with("\u{2014} ")) {
            return Err(malformed("a signature line does not start with an em dash"));
        }
        Ok(Self {
            text: format!("{text}\n"),
            signatures,
        })
    }

    /// Checks that one of the signature lines is `key`'s over the text.
    pub fn verify(&self, key: &VerifierKey) -> Result<(), AuditError> {
        let prefix = format!("\u{2014} {} ", key.name());
        let signed = self
            .signatures
            .iter()
            .filter(|line| line.starts_with(&prefix))
            .any(|line| key.verify(&self.text, line).is_ok());
        if signed {
            Ok(())
        } else {
            Err(AuditError::BadSignature)
        }
    }

    /// Checks the log's signature and returns the checkpoint it commits to.
    pub fn verify_checkpoint(&self, log_key: &VerifierKey) -> Result<Checkpoint, AuditError> {
        self.verify(log_key)?;
        Checkpoint::parse_body(&self.text)
    }

    /// Adds a witness's cosignature line over the same text, replacing an earlier one of the
    /// same name.
    pub fn cosign(&mut self, witness: &SignerKey) {
        let line = witness.sign(&self.text);
        let name = witness.verifier().name().to_owned();
        self.signatures
            .retain(|l| !l.starts_with(&format!("\u{2014} {name} ")));
        self.signatures.push(line);
    }
}

impl fmt::Display for SignedNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\n{}", self.text, self.signatures.concat())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            origin: "jembatan.test.local/audit".into(),
            size: 1234,
            root: [7; 32],
        }
    }

    #[test]
    fn a_signed_checkpoint_round_trips_through_text() {
        let log = SignerKey::generate("jembatan.test.local/audit").expect("key");
        let note = checkpoint().sign(&log);
        let text = note.to_string();
        assert!(
            text.starts_with("jembatan.test.local/audit\n1234\nBwcH"),
            "{text}"
        );
        assert!(
            text.contains("\n\n\u{2014} jembatan.test.local/audit "),
            "{text}"
        );
        let parsed = SignedNote::parse(&text).expect("parse");
        assert_eq!(parsed, note);
        assert_eq!(
            parsed.verify_checkpoint(&log.verifier()).expect("verify"),
            checkpoint()
        );
    }

    #[test]
    fn a_changed_checkpoint_or_another_key_does_not_verify() {
        let log = SignerKey::generate("jembatan.test.local/audit").expect("key");
        let impostor = SignerKey::generate("jembatan.test.local/audit").expect("key");
        let note = checkpoint().sign(&log);
        let forged = checkpoint().sign(&impostor);
        assert!(
            forged.verify(&log.verifier()).is_err(),
            "another key with the same name"
        );
        for (from, to) in [
            ("1234", "1235"),
            ("BwcH", "CAcH"),
            ("local/audit", "local/audix"),
        ] {
            let tampered =
                SignedNote::parse(&note.to_string().replacen(from, to, 1)).expect("parse");
            assert!(tampered.verify(&log.verifier()).is_err(), "{from} -> {to}");
        }
    }

    #[test]
    fn witnesses_cosign_the_same_text() {
        let log = SignerKey::generate("jembatan.test.local/audit").expect("key");
        let kemendag = SignerKey::generate("kemendag-witness").expect("key");
        let mut note = checkpoint().sign(&log);
        note.cosign(&kemendag);
        note.cosign(&kemendag);
        assert_eq!(
            note.signatures.len(),
            2,
            "a second cosignature of one witness replaces the first"
        );
        let parsed = SignedNote::parse(&note.to_string()).expect("parse");
        parsed.verify(&log.verifier()).expect("log signature");
        parsed.verify(&kemendag.verifier()).expect("cosignature");
        let kp2mi = SignerKey::generate("kp2mi-witness").expect("key");
        assert!(
            parsed.verify(&kp2mi.verifier()).is_err(),
            "kp2mi has not cosigned"
        );
    }

    #[test]
    fn malformed_bodies_are_refused() {
        let root = BASE64.encode([7u8; 32]);
        for body in [
            format!("o\n12\n{root}"),
            format!("o\n012\n{root}\n"),
            format!("o\n-1\n{root}\n"),
            format!("o\n+1\n{root}\n"),
            format!("o\n\n{root}\n"),
            "o\n12\nAAAA\n".to_owned(),
            format!("\n12\n{root}\n"),
            format!("o\n12\n{root}\nextension\n"),
            format!("o\n18446744073709551616\n{root}\n"),
        ] {
            assert!(Checkpoint::parse_body(&body).is_err(), "{body:?}");
        }
        assert!(Checkpoint::parse_body(&format!("o\n0\n{root}\n")).is_ok());
        assert!(SignedNote::parse("o\n1\nroot\n").is_err(), "no signatures");
        assert!(
            SignedNote::parse("o\n1\nroot\n\n- o sig\n").is_err(),
            "hyphen, not em dash"
        );
    }
}
