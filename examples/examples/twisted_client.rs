//! A pb client that runs every call of the root API of Twisted's reference
//! server (`pb-runtime/tests/twisted/server.py`) against a Twisted PB
//! server, and exits 0 only if all succeed.
//!
//! ```sh
//! python pb-runtime/tests/twisted/server.py     # prints PORTS <root> <portal>
//! cargo run -p pb-examples --example twisted_client -- ROOT PORTAL
//! ```
//!
//! `ROOT` is the root object's port on 127.0.0.1 (or a `host:port`).
//! `PORTAL` is the portal's: the client logs in as alice and calls the
//! avatar's `whoami` (no portal checks without it, or with `0`).

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(root) = args.first() else {
        eprintln!("usage: twisted_client ROOT [PORTAL]   (ports on 127.0.0.1, or host:port)");
        return ExitCode::from(2);
    };
    let full = |port: &String| if port.contains(':') { port.clone() } else { format!("127.0.0.1:{port}") };
    let addr = full(root);
    let portal = args.get(1).filter(|p| *p != "0").map(full);
    let run = async {
        let mut report = pb_examples::twisted::client::run(addr.as_str()).await?;
        if let Some(portal) = &portal {
            report.extend(pb_examples::twisted::client::run_portal(portal.as_str()).await?);
        }
        Ok::<_, pb::Error>(report)
    };
    let report = match tokio::time::timeout(std::time::Duration::from_secs(30), run).await {
        Ok(Ok(report)) => report,
        Ok(Err(e)) => {
            eprintln!("FAIL connect to {addr}: {e}");
            return ExitCode::FAILURE;
        }
        Err(_) => {
            eprintln!("FAIL did not finish within 30 s");
            return ExitCode::FAILURE;
        }
    };
    for (name, outcome) in &report {
        match outcome {
            Ok(()) => println!("ok {name}"),
            Err(why) => println!("FAIL {name}: {why}"),
        }
    }
    if report.iter().all(|(_, o)| o.is_ok()) { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
