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

use std::borrow::Cow;
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

/// Bytes of input parsed as one block by a worker.
const BLOCK: usize = 4 << 20;

/// Reads an export: the origin and the log's contents. Leaf bytes are hashed as they are read
/// and not kept; blocks of lines are parsed on all cores. Errors name the first bad line.
pub fn read(input: impl BufRead) -> Result<(String, LogContents), AuditError> {
    read_in_blocks(input, BLOCK)
}

fn read_in_blocks(
    mut input: impl BufRead,
    block_size: usize,
) -> Result<(String, LogContents), AuditError> {
    let io = |number: u64, e: std::io::Error| AuditError::Export(format!("line {number}: {e}"));
    // The header, alone, first.
    let mut header = String::new();
    let mut number = 0u64;
    while header.trim().is_empty() {
        header.clear();
        number += 1;
        if input.read_line(&mut header).map_err(|e| io(number, e))? == 0 {
            return Err(AuditError::Export("the export is empty".into()));
        }
    }
    let at = |what: &str| AuditError::Export(format!("line {number}: {what}"));
    let origin = match serde_json::from_str::<Line>(header.trim_end()) {
        Ok(Line::Header {
            format,
            version,
            origin,
        }) if format == FORMAT && version == VERSION => origin,
        Ok(Line::Header { .. }) => {
            return Err(at(&format!("not a {FORMAT} version {VERSION} export")));
        }
        Ok(_) => return Err(at("the header must be the first line, and only it")),
        Err(e) => return Err(at(&e.to_string())),
    };

    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (blocks_tx, blocks_rx) = std::sync::mpsc::sync_channel::<(usize, Vec<u8>)>(workers * 2);
    // Each reader holds the receiver; when all have stopped (at the end, or at an error), the
    // sender's next block fails instead of waiting forever.
    let blocks_rx = std::sync::Arc::new(std::sync::Mutex::new(blocks_rx));
    let parts: Vec<Part> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let blocks_rx = std::sync::Arc::clone(&blocks_rx);
                scope.spawn(move || {
                    let mut part = Part::default();
                    while let Ok(Ok((seq, block))) = blocks_rx.lock().map(|rx| rx.recv()) {
                        let lines = parse_block(&block, &mut part.contents);
                        if let Err((line, error)) = lines {
                            part.error = Some((seq, line, error));
                            return part;
                        }
                        part.lines
                            .push((seq, block.iter().filter(|&&b| b == b'\n').count()));
                    }
                    part
                })
            })
            .collect();
        drop(blocks_rx);
        let sent = send_blocks(&mut input, block_size, &blocks_tx);
        drop(blocks_tx);
        let mut parts: Vec<Part> = handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|_| Part::failed("a reader thread panicked"))
            })
            .collect();
        if let Err(error) = sent {
            parts.push(Part::failed(&error.to_string()));
        }
        parts
    });
    let mut contents = LogContents::default();
    let mut lines_of_block = std::collections::BTreeMap::new();
    let mut first_error: Option<(usize, u64, String)> = None;
    for part in parts {
        contents.leaves.extend(part.contents.leaves);
        contents.nodes.extend(part.contents.nodes);
        contents.checkpoints.extend(part.contents.checkpoints);
        contents.cosignatures.extend(part.contents.cosignatures);
        lines_of_block.extend(part.lines);
        if let Some((seq, line, error)) = part.error
            && first_error
                .as_ref()
                .is_none_or(|(s, l, _)| (seq, line) < (*s, *l))
        {
            first_error = Some((seq, line, error));
        }
    }
    match first_error {
        // Line numbers are counted only now, from the blocks before the bad one.
        Some((seq, line, error)) => {
            let before: usize = lines_of_block.range(..seq).map(|(_, n)| n).sum();
            let number = number + before as u64 + line + 1;
            Err(AuditError::Export(format!("line {number}: {error}")))
        }
        None => Ok((origin, contents)),
    }
}

/// What one reader thread parsed: contents, lines per block, and the first error it met (block,
/// line in block, error).
#[derive(Default)]
struct Part {
    contents: LogContents,
    lines: Vec<(usize, usize)>,
    error: Option<(usize, u64, String)>,
}

impl Part {
    fn failed(what: &str) -> Self {
        Self {
            error: Some((0, 0, what.to_owned())),
            ..Self::default()
        }
    }
}

/// Sends the rest of `input` in blocks of whole lines, numbered in order.
fn send_blocks(
    input: &mut impl BufRead,
    block_size: usize,
    blocks: &std::sync::mpsc::SyncSender<(usize, Vec<u8>)>,
) -> std::io::Result<()> {
    let mut carry: Vec<u8> = Vec::new();
    for seq in 0.. {
        let mut block = std::mem::take(&mut carry);
        let mut target = block_size.max(1);
        let mut eof = false;
        // Fill to the target, and on until the block holds a whole line.
        loop {
            while block.len() < target {
                let buffer = input.fill_buf()?;
                if buffer.is_empty() {
                    eof = true;
                    break;
                }
                let taken = buffer.len().min(target - block.len());
                block.extend_from_slice(&buffer[..taken]);
                input.consume(taken);
            }
            if eof {
                break;
            }
            if let Some(end) = block.iter().rposition(|&b| b == b'\n') {
                carry = block.split_off(end + 1);
                break;
            }
            target += block_size.max(1);
        }
        if block.is_empty() || blocks.send((seq, block)).is_err() {
            // Done, or every reader stopped at an error, which they report.
            return Ok(());
        }
    }
    Ok(())
}

/// A leaf line, parsed without copying (unless a string holds a JSON escape, such as the `\/`
/// some encoders write for `/`): the common case, read by a fast path.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LeafLine<'a> {
    #[serde(rename = "type", borrow)]
    _type: Cow<'a, str>,
    index: u64,
    #[serde(borrow)]
    hash: Cow<'a, str>,
    #[serde(borrow)]
    data: Cow<'a, str>,
}

/// A node line, parsed without copying (unless a string holds a JSON escape).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeLine<'a> {
    #[serde(rename = "type", borrow)]
    _type: Cow<'a, str>,
    level: u32,
    index: u64,
    #[serde(borrow)]
    hash: Cow<'a, str>,
}

/// Parses the lines of one block into `contents`; an error carries the index of its line in
/// the block.
fn parse_block(block: &[u8], contents: &mut LogContents) -> Result<(), (u64, String)> {
    let mut data = Vec::new();
    for (number, line) in (0u64..).zip(block.split(|&b| b == b'\n')) {
        let at = |what: &str| (number, what.to_owned());
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        if line.starts_with(b"{\"type\":\"leaf\",") {
            let leaf: LeafLine<'_> =
                serde_json::from_slice(line).map_err(|e| at(&e.to_string()))?;
            data.clear();
            BASE64
                .decode_vec(leaf.data.as_bytes(), &mut data)
                .map_err(|_| at("data is not base64"))?;
            let hash = hash_of(&leaf.hash).ok_or_else(|| at("hash is not base64 of 32 bytes"))?;
            contents
                .leaves
                .push(ExportedLeaf::new(leaf.index, hash, &data));
            continue;
        }
        if line.starts_with(b"{\"type\":\"node\",") {
            let node: NodeLine<'_> =
                serde_json::from_slice(line).map_err(|e| at(&e.to_string()))?;
            let hash = hash_of(&node.hash).ok_or_else(|| at("hash is not base64 of 32 bytes"))?;
            contents.nodes.insert((node.level, node.index), hash);
            continue;
        }
        match serde_json::from_slice::<Line>(line).map_err(|e| at(&e.to_string()))? {
            Line::Header { .. } => {
                return Err(at("the header must be the first line, and only it"));
            }
            Line::Leaf { index, hash, data } => {
                let hash = hash_of(&hash).ok_or_else(|| at("hash is not base64 of 32 bytes"))?;
                let data = BASE64.decode(data).map_err(|_| at("data is not base64"))?;
                contents.leaves.push(ExportedLeaf::new(index, hash, &data));
            }
            Line::Node { level, index, hash } => {
                let hash = hash_of(&hash).ok_or_else(|| at("hash is not base64 of 32 bytes"))?;
                contents.nodes.insert((level, index), hash);
            }
            Line::Checkpoint { note } => contents
                .checkpoints
                .push(SignedNote::parse(&note).map_err(|e| at(&e.to_string()))?),
            Line::Cosignature {
                size,
                verifier_key,
                signature,
                ..
            } => contents.cosignatures.push(ExportedCosignature {
                size,
                verifier_key,
                signature,
            }),
        }
    }
    Ok(())
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
        assert_eq!(
            contents.leaves[0].data_hash,
            crate::merkle::leaf_hash(b"{}")
        );
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

    /// Found by the `export` fuzz target's seeds: JSON may write `/` as `\/` (PHP's
    /// `json_encode` does, and base64 holds `/`), and the fast path of leaf and node lines,
    /// which borrowed its strings, refused any string with an escape.
    #[test]
    fn escaped_strings_read_as_their_text() {
        let mut out = Vec::new();
        Line::header("o/audit").write(&mut out).expect("write");
        let hash = crate::merkle::leaf_hash(b"?>?");
        Line::leaf(0, &hash, b"?>?").write(&mut out).expect("write");
        Line::node(1, 0, &[0xff; 32])
            .write(&mut out)
            .expect("write");
        let plain = String::from_utf8(out).expect("utf-8");
        let escaped = plain.replace('/', "\\/");
        assert!(escaped.contains("\"data\":\"Pz4\\/\""), "{escaped}");
        let (origin, contents) = read(escaped.as_bytes()).expect("escaped strings");
        assert_eq!(origin, "o/audit");
        assert_eq!(contents.leaves[0].hash, hash);
        assert_eq!(contents.leaves[0].data_hash, hash);
        assert_eq!(contents.nodes[&(1, 0)], [0xff; 32]);
    }

    #[test]
    fn blocks_split_anywhere_read_the_same_and_count_lines_across_them() {
        let mut out = Vec::new();
        Line::header("o/audit").write(&mut out).expect("write");
        for index in 0..40u64 {
            let data = format!("{{\"leaf\":{index}}}");
            Line::leaf(
                index,
                &crate::merkle::leaf_hash(data.as_bytes()),
                data.as_bytes(),
            )
            .write(&mut out)
            .expect("write");
            Line::node(1, index, &[3; 32])
                .write(&mut out)
                .expect("write");
        }
        for block in [1, 7, 64, 100, 1 << 20] {
            let (_, contents) = read_in_blocks(out.as_slice(), block).expect("read");
            assert_eq!(contents.leaves.len(), 40, "block {block}");
            assert_eq!(contents.nodes.len(), 40, "block {block}");
            assert!(contents.leaves.iter().all(|l| l.hash == l.data_hash));
        }
        // Line 1 is the header; leaf 30 is on line 2 + 2 * 30 = 62.
        let text = String::from_utf8(out).expect("utf-8");
        let broken = text.replacen(
            "{\"type\":\"leaf\",\"index\":30,",
            "{\"type\":\"leaf\",\"index\":-30,",
            1,
        );
        for block in [64, 100, 1 << 20] {
            let err = read_in_blocks(broken.as_bytes(), block)
                .expect_err("bad index")
                .to_string();
            assert!(err.contains("line 62: "), "block {block}: {err}");
        }
    }
}
