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
    let (splitter, jelly, clients) = twisted_seeds(&repo.join("pb-runtime/tests/twisted/fixtures"))?;
    targets.push(("banana_splitter", splitter));
    targets.push(("jelly_decode", jelly));
    let mut connection = clients;
    connection.extend(pb_fuzz_common::twisted::twisted_connection_seeds().into_iter().map(|(n, b)| (n.to_string(), b)));
    targets.push(("twisted_connection", connection));
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

/// Seeds of the Twisted targets, from the golden fixtures: for the splitter,
/// whole sessions (limits: depth 64, 65,535 bytes; reads of 8 bytes), for
/// the jelly decoder each value and message (depth 64), for the Twisted
/// server side each fixture's client side after the handshake.
#[allow(clippy::type_complexity)]
fn twisted_seeds(
    fixtures: &std::path::Path,
) -> std::io::Result<(Vec<(String, Vec<u8>)>, Vec<(String, Vec<u8>)>, Vec<(String, Vec<u8>)>)> {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(fixtures)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    files.sort();
    let (mut session, mut values, mut jelly, mut clients) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let handshake = pb_fuzz_common::twisted::twisted_handshake();
    for path in files {
        let case = path.file_stem().unwrap().to_string_lossy().into_owned();
        let mut client = Vec::new();
        for (i, line) in std::fs::read_to_string(&path)?.lines().enumerate() {
            let Some((dir, rest)) = line.split_once(' ').filter(|_| !line.starts_with('#')) else { continue };
            let hex = rest.split_once("  # ").map_or(rest, |(h, _)| h);
            let bytes: Vec<u8> =
                (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
            if dir == "val" {
                values.extend_from_slice(&bytes)
            } else {
                session.extend_from_slice(&bytes)
            }
            // The client's side, less the handshake the target sends itself.
            if dir == "C>S" && !handshake.windows(bytes.len()).any(|w| w == bytes) {
                client.extend_from_slice(&bytes);
            }
            jelly.push((format!("{case}-{}", i + 1), [&[64u8][..], &bytes].concat()));
        }
        if !client.is_empty() {
            clients.push((format!("fixture-{case}"), client));
        }
    }
    let head = |dialect_pb: bool| vec![64u8, 0xff, 0xff, 7 | if dialect_pb { 0x80 } else { 0 }];
    let deep: Vec<u8> = [0x01u8, 0x80].repeat(70).into_iter().chain([0x00, 0x80]).collect();
    let splitter = vec![
        ("twisted-session".to_string(), [head(true), session].concat()),
        ("twisted-values".to_string(), [head(true), values].concat()),
        ("twisted-handshake".to_string(), [head(false), b"\x02\x80\x02\x82pb\x04\x82none".to_vec()].concat()),
        ("twisted-deep".to_string(), [head(true), deep].concat()),
    ];
    Ok((splitter, jelly, clients))
}
