//! Write the seed corpus of every fuzz target to `fuzz/corpus/<target>/`:
//! `cargo run --manifest-path fuzz/Cargo.toml -p pb-fuzz-common --bin make-seeds`.

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../corpus");
    let targets = [
        ("frame_decoder", pb_fuzz_common::frame_seeds()),
        ("message_decoder", pb_fuzz_common::message_seeds()),
        ("connection", pb_fuzz_common::connection_seeds()),
    ];
    let mut targets: Vec<(&str, Vec<(String, Vec<u8>)>)> = targets
        .into_iter()
        .map(|(t, seeds)| (t, seeds.into_iter().map(|(n, b)| (n.to_string(), b)).collect()))
        .collect();
    // The IDL parser starts from the repository's own schemas.
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut schemas = Vec::new();
    for dir in ["pb-idl/tests/golden/gen", "examples/schemas"] {
        for entry in std::fs::read_dir(repo.join(dir))? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "pbidl") {
                let name = path.file_stem().unwrap().to_string_lossy().into_owned();
                schemas.push((name, std::fs::read(&path)?));
            }
        }
    }
    targets.push(("idl_parser", schemas));
    for (target, seeds) in targets {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir)?;
        for (name, bytes) in seeds {
            std::fs::write(dir.join(format!("seed-{name}")), bytes)?;
        }
        println!("{}: seeds written", dir.display());
    }
    Ok(())
}
