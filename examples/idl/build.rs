//! Compile the aurora schema into OUT_DIR (cargo reruns this when it changes).

fn main() {
    if let Err(e) = pb_idl::Config::new().compile(&["../schemas/aurora.pbidl"], &["../schemas"]) {
        // Print the rendered diagnostics as they are, not as a Debug string.
        eprintln!("{e}");
        std::process::exit(1);
    }
}
