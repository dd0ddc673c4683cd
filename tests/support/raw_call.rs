//! Calls any method of the exchange by path, with empty messages: enough to see what the layers
//! before a handler decide, for every method of the contract alike.

use jembatan_domain::{LegalBasis, Purpose};
use prost::Message;
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::transport::Channel;

/// Every method of the contract as `<Service>/<Method>`, read from its file descriptor set.
pub fn contract_methods() -> Vec<String> {
    let set = prost_types::FileDescriptorSet::decode(jembatan_proto::FILE_DESCRIPTOR_SET)
        .expect("descriptor set");
    let mut methods: Vec<String> = set
        .file
        .iter()
        .flat_map(|file| &file.service)
        .flat_map(|service| {
            service
                .method
                .iter()
                .map(move |method| format!("{}/{}", service.name(), method.name()))
        })
        .collect();
    methods.sort();
    methods
}

/// Metadata stating `purpose` and `legal_basis`.
pub fn stated(purpose: Purpose, legal_basis: LegalBasis) -> Vec<(&'static str, String)> {
    vec![
        ("jembatan-purpose", purpose.code().to_owned()),
        ("jembatan-legal-basis", legal_basis.code().to_owned()),
    ]
}

/// Calls `/jembatan.v1.<method>` with one empty message and `metadata`; returns the response
/// headers, or the status with its headers. Streaming and unary methods look alike on the wire.
pub async fn call(
    channel: Channel,
    method: &str,
    metadata: &[(&'static str, String)],
) -> Result<MetadataMap, tonic::Status> {
    call_path(channel, &format!("/jembatan.v1.{method}"), metadata).await
}

/// Like [`call`], for any path.
pub async fn call_path(
    channel: Channel,
    path: &str,
    metadata: &[(&'static str, String)],
) -> Result<MetadataMap, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let mut request = tonic::Request::new(tokio_stream::iter([()]));
    for (key, value) in metadata {
        let value = MetadataValue::try_from(value.as_str()).expect("ascii metadata");
        request.metadata_mut().append(*key, value);
    }
    let response = grpc
        .streaming(request, path.parse().expect("path"), EmptyCodec)
        .await?;
    Ok(response.metadata().clone())
}

/// A codec for calls whose messages are empty, to reach arbitrary paths.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmptyCodec;

impl tonic::codec::Codec for EmptyCodec {
    type Encode = ();
    type Decode = ();
    type Encoder = EmptyCodec;
    type Decoder = EmptyCodec;

    fn encoder(&mut self) -> Self::Encoder {
        EmptyCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        EmptyCodec
    }
}

impl tonic::codec::Encoder for EmptyCodec {
    type Item = ();
    type Error = tonic::Status;

    fn encode(&mut self, _: (), _: &mut tonic::codec::EncodeBuf<'_>) -> Result<(), tonic::Status> {
        Ok(())
    }
}

impl tonic::codec::Decoder for EmptyCodec {
    type Item = ();
    type Error = tonic::Status;

    fn decode(&mut self, _: &mut tonic::codec::DecodeBuf<'_>) -> Result<Option<()>, tonic::Status> {
        Ok(Some(()))
    }
}
