//! The `jembatan.v1` contract: generated message types, tonic clients and servers, and the
//! encoded file descriptor set that the server's reflection service publishes.
//!
//! The contract's source of truth is `proto/jembatan/v1/`; this crate only compiles it.

#![forbid(unsafe_code)]
#![allow(missing_docs, unreachable_pub)] // generated code; the .proto files carry the docs

/// Package `jembatan.v1`.
pub mod v1 {
    tonic::include_proto!("jembatan.v1");
}

/// The encoded `FileDescriptorSet` of every file in `jembatan.v1`, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    tonic::include_file_descriptor_set!("jembatan_v1_descriptor");
