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
