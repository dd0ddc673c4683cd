//! Compiles the echo baseline's proto with the protoc shipped by `protoc-bin-vendored`.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let proto_root = manifest_dir.join("proto");
    let file = proto_root.join("echo.proto");
    println!("cargo:rerun-if-changed={}", file.display());
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    // Payloads as Bytes: the load generator sends the same one many times without copying it.
    config.bytes(["."]);
    tonic_prost_build::configure().compile_with_config(config, &[file], &[proto_root])?;
    Ok(())
}
