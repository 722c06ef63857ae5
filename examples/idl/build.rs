//! Compile the example schemas into OUT_DIR (cargo reruns this when they change).

fn main() {
    let schemas = ["../schemas/aurora.pbidl", "../schemas/log_tail.pbidl"];
    if let Err(e) = pb_idl::Config::new().compile(&schemas, &["../schemas"]) {
        // Print the rendered diagnostics as they are, not as a Debug string.
        eprintln!("{e}");
        std::process::exit(1);
    }
}
