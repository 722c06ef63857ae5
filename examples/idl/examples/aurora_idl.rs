//! The aurora example built from a schema, talking to the hand-written one.
//!
//! Run with `cargo run -p pb-examples-idl --example aurora_idl`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    for line in pb_examples_idl::demo().await? {
        println!("{line}");
    }
    Ok(())
}
