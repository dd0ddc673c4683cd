//! Receipts as the client commands show them: the audit leaf written for what crossed.

use jembatan_client::v1;

/// A receipt for machines: `{"leaf_index": N, "leaf_hash": "<hex>"}`, or null.
pub(crate) fn json(receipt: Option<&v1::Receipt>) -> serde_json::Value {
    match receipt {
        Some(receipt) => serde_json::json!({
            "leaf_index": receipt.leaf_index,
            "leaf_hash": hex::encode(&receipt.leaf_hash),
        }),
        None => serde_json::Value::Null,
    }
}

/// A receipt for people: `receipt: audit leaf N (leaf hash <hex>)`.
pub(crate) fn line(receipt: Option<&v1::Receipt>) -> String {
    match receipt {
        Some(receipt) => format!(
            "receipt: audit leaf {} (leaf hash {})",
            receipt.leaf_index,
            hex::encode(&receipt.leaf_hash)
        ),
        None => "receipt: none given".to_owned(),
    }
}
