//! Refused requests are logged too: the identity and policy layers commit an audit leaf before
//! they answer, and answer UNAVAILABLE instead when the leaf cannot be written.

use jembatan_audit::leaf::LeafEntry;
use jembatan_store::Store;

/// Commits `leaf` and returns `status`, or UNAVAILABLE if the log cannot be written.
pub(crate) async fn logged(
    store: &Store,
    leaf: &LeafEntry,
    status: tonic::Status,
) -> tonic::Status {
    let written = async {
        let mut tx = store.begin().await?;
        tx.append_leaves(std::slice::from_ref(leaf)).await?;
        tx.commit().await
    };
    match written.await {
        Ok(()) => status,
        Err(error) => {
            tracing::error!(%error, "cannot write the audit leaf of a refused request");
            tonic::Status::unavailable("the audit log cannot be written; try later")
        }
    }
}
