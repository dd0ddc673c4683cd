//! Compiles proto/jembatan/v1 with the protoc shipped by `protoc-bin-vendored`, so no system
//! protoc is needed, and writes the file descriptor set that server reflection serves.

use std::path::PathBuf;

const FILES: &[&str] = &[
    "jembatan/v1/common.proto",
    "jembatan/v1/placement.proto",
    "jembatan/v1/workforce.proto",
    "jembatan/v1/market.proto",
    "jembatan/v1/program.proto",
    "jembatan/v1/audit.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let proto_root = manifest_dir.join("../../proto");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    let include = protoc_bin_vendored::include_path()?;

    let files: Vec<PathBuf> = FILES.iter().map(|f| proto_root.join(f)).collect();
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }

    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc);
    tonic_prost_build::configure()
        .generate_default_stubs(true)
        .file_descriptor_set_path(out_dir.join("jembatan_v1_descriptor.bin"))
        .compile_with_config(config, &files, &[proto_root, include])?;
    Ok(())
}
