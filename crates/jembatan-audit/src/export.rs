//! The export format of a log, for auditors who verify offline: JSON Lines, one object per line.
//!
//! ```text
//! {"type":"header","format":"jembatan-audit-export","version":1,"origin":"jembatan.td/audit"}
//! {"type":"leaf","index":0,"hash":"<base64>","data":"<base64 of the exact bytes hashed>"}
//! {"type":"node","level":1,"index":0,"hash":"<base64>"}
//! {"type":"checkpoint","note":"<the signed note with the log's signature line>"}
//! {"type":"cosignature","size":120,"verifier_key":"<name>+<id>+<base64>",
//!  "signature":"— <name> <base64>\n","principal":"spiffe://…","received_at":"<RFC 3339>"}
//! ```
//!
//! The header comes first; the other lines in any order. Hashes are 32 bytes. The verifier key
//! is not in the export: the auditor brings it from a trusted source (`audit/log.pub`).

use std::io::{BufRead, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use crate::AuditError;
use crate::checkpoint::SignedNote;
use crate::merkle::Hash;
use crate::verify::{ExportedCosignature, ExportedLeaf, LogContents};

/// The `format` value of the header.
pub const FORMAT: &str = "jembatan-audit-export";
/// The version written by this program.
pub const VERSION: u32 = 1;

/// One line of an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Line {
    /// The first line.
    Header {
        /// [`FORMAT`].
        format: String,
        /// [`VERSION`].
        version: u32,
        /// The log's origin.
        origin: String,
    },
    /// A leaf.
    Leaf {
        /// Zero-based index.
        index: u64,
        /// Stored leaf hash, base64.
        hash: String,
        /// Stored bytes, base64.
        data: String,
    },
    /// A stored subtree root.
    Node {
        /// Level, 1 and up.
        level: u32,
        /// Index at that level.
        index: u64,
        /// Hash, base64.
        hash: String,
    },
    /// A signed checkpoint.
    Checkpoint {
        /// The signed note.
        note: String,
    },
    /// A witness's cosignature of the checkpoint of `size` leaves.
    Cosignature {
        /// The cosigned checkpoint's size.
        size: u64,
        /// The witness's verifier key, as registered with the exchange.
        verifier_key: String,
        /// The signature line over the checkpoint's text.
        signature: String,
        /// The principal that submitted it.
        principal: String,
        /// When the exchange stored it.
        received_at: String,
    },
}

impl Line {
    /// A header line for `origin`.
    pub fn header(origin: &str) -> Self {
        Line::Header {
            format: FORMAT.to_owned(),
            version: VERSION,
            origin: origin.to_owned(),
        }
    }

    /// A leaf line.
    pub fn leaf(index: u64, hash: &[u8], data: &[u8]) -> Self {
        Line::Leaf {
            index,
            hash: BASE64.encode(hash),
            data: BASE64.encode(data),
        }
    }

    /// A node line.
    pub fn node(level: u32, index: u64, hash: &[u8]) -> Self {
        Line::Node {
            level,
            index,
            hash: BASE64.encode(hash),
        }
    }

    /// Writes the line and its newline.
    pub fn write(&self, out: &mut impl Write) -> Result<(), AuditError> {
        serde_json::to_writer(&mut *out, self).map_err(|e| AuditError::Export(e.to_string()))?;
        out.write_all(b"\n")
            .map_err(|e| AuditError::Export(e.to_string()))
    }
}

/// Reads an export: the origin and the log's contents. Errors name the line.
pub fn read(input: impl BufRead) -> Result<(String, LogContents), AuditError> {
    let mut origin = None;
    let mut contents = LogContents::default();
    for (number, line) in (1u64..).zip(input.lines()) {
        let at = |what: &str| AuditError::Export(format!("line {number}: {what}"));
        let line = line.map_err(|e| at(&e.to_string()))?;
        if line.is_empty() {
            continue;
        }
        let parsed: Line = serde_json::from_str(&line).map_err(|e| at(&e.to_string()))?;
        match (parsed, &origin) {
            (
                Line::Header {
                    format,
                    version,
                    origin: o,
                },
                None,
            ) => {
                if format != FORMAT || version != VERSION {
                    return Err(at(&format!("not a {FORMAT} version {VERSION} export")));
                }
                origin = Some(o);
            }
            (_, None) | (Line::Header { .. }, Some(_)) => {
                return Err(at("the header must be the first line, and only it"));
            }
            (Line::Leaf { index, hash, data }, Some(_)) => contents.leaves.push(ExportedLeaf {
                index,
                hash: hash_of(&hash).ok_or_else(|| at("hash is not base64 of 32 bytes"))?,
                data: BASE64.decode(data).map_err(|_| at("data is not base64"))?,
            }),
            (Line::Node { level, index, hash }, Some(_)) => {
                let hash = hash_of(&hash).ok_or_else(|| at("hash is not base64 of 32 bytes"))?;
                contents.nodes.insert((level, index), hash);
            }
            (Line::Checkpoint { note }, Some(_)) => contents
                .checkpoints
                .push(SignedNote::parse(&note).map_err(|e| at(&e.to_string()))?),
            (
                Line::Cosignature {
                    size,
                    verifier_key,
                    signature,
                    ..
                },
                Some(_),
            ) => contents.cosignatures.push(ExportedCosignature {
                size,
                verifier_key,
                signature,
            }),
        }
    }
    let origin = origin.ok_or_else(|| AuditError::Export("the export is empty".into()))?;
    Ok((origin, contents))
}

fn hash_of(text: &str) -> Option<Hash> {
    BASE64.decode(text).ok()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_export_round_trips_and_errors_name_the_line() {
        let mut out = Vec::new();
        Line::header("o/audit").write(&mut out).expect("write");
        Line::leaf(0, &[1; 32], b"{}")
            .write(&mut out)
            .expect("write");
        Line::node(1, 0, &[2; 32]).write(&mut out).expect("write");
        let (origin, contents) = read(out.as_slice()).expect("read");
        assert_eq!(origin, "o/audit");
        assert_eq!(contents.leaves[0].data, b"{}");
        assert_eq!(contents.nodes[&(1, 0)], [2; 32]);

        let mut bad = out.clone();
        bad.extend_from_slice(b"{\"type\":\"leaf\",\"index\":1,\"hash\":\"AAAA\",\"data\":\"\"}\n");
        let err = read(bad.as_slice()).expect_err("short hash").to_string();
        assert!(
            err.contains("line 4: hash is not base64 of 32 bytes"),
            "{err}"
        );
        let err = read(&b"{\"type\":\"node\",\"level\":1,\"index\":0,\"hash\":\"\"}\n"[..])
            .expect_err("no header")
            .to_string();
        assert!(err.contains("line 1"), "{err}");
    }
}
