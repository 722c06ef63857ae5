//! `pb`: look inside running pb systems (see the `pb_cli` library).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use pb_cli::{Failure, Options, Target, exit};

const EXIT_CODES: &str = "\
Exit codes:
  0  ok
  1  remote error (the method's error, or the peer refused)
  2  usage error (arguments, schema, JSON, unknown interface or method)
  3  connection error (unreachable, timed out, link lost)

The password for --login is read from $PB_PASSWORD, else from the first
line of standard input.";

/// Look inside running pb systems: list, describe and call their objects.
#[derive(Parser)]
#[command(name = "pb", version, after_help = EXIT_CODES)]
struct Cli {
    /// Connect over TLS (with --ca).
    #[arg(long, global = true)]
    tls: bool,
    /// PEM file of the certificate authorities to trust (with --tls).
    #[arg(long, global = true, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// The server's name in its certificate (default: the host of ADDR).
    #[arg(long, global = true, value_name = "NAME")]
    server_name: Option<String>,
    /// Log in as USER through the server's login portal.
    #[arg(long, global = true, value_name = "USER")]
    login: Option<String>,
    /// Give up after this many seconds.
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 10.0)]
    timeout: f64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List what the server's root and registry serve.
    Ls {
        /// host:port
        addr: String,
    },
    /// Print an interface as the peer describes it, in .pbidl syntax.
    Describe {
        /// host:port
        addr: String,
        /// The interface's name (as `pb ls` shows it).
        iface: String,
        /// A schema with the interface's types.
        #[arg(long, value_name = "FILE.pbidl")]
        schema: Option<PathBuf>,
    },
    /// Call a method with JSON arguments and print the result as JSON.
    Call {
        /// host:port
        addr: String,
        /// INTERFACE.method
        method: String,
        /// The arguments: a JSON list, an object by argument name, or the
        /// single argument.
        #[arg(default_value = "[]")]
        args: String,
        /// A schema with the interface's types.
        #[arg(long, value_name = "FILE.pbidl")]
        schema: Option<PathBuf>,
    },
    /// Obtain a cached model through a method; print its state and each
    /// change as JSON lines until interrupted (--timeout bounds only the
    /// connection).
    Watch {
        /// host:port
        addr: String,
        /// INTERFACE.method (a method returning a cached model)
        method: String,
        /// The method's arguments, as for `call`.
        #[arg(default_value = "[]")]
        args: String,
        /// A schema with the interface's types.
        #[arg(long, value_name = "FILE.pbidl")]
        schema: Option<PathBuf>,
    },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { exit::USAGE } else { exit::OK });
        }
    };
    let timeout = Duration::from_secs_f64(cli.timeout.max(0.0));
    let result = run(cli, timeout).await;
    match result {
        Ok(out) => {
            print!("{out}");
            ExitCode::from(exit::OK)
        }
        Err(f) => {
            eprintln!("pb: {f}");
            ExitCode::from(f.code)
        }
    }
}

/// `fut`, or a connection error after `timeout`.
async fn within<T>(
    timeout: Duration,
    fut: impl std::future::Future<Output = Result<T, Failure>>,
) -> Result<T, Failure> {
    tokio::time::timeout(timeout, fut)
        .await
        .unwrap_or_else(|_| Err(Failure { code: exit::CONNECTION, message: format!("timed out after {timeout:?}") }))
}

async fn run(cli: Cli, timeout: Duration) -> Result<String, Failure> {
    let login = match cli.login {
        Some(user) => Some((user, password()?)),
        None => None,
    };
    let mut opts = Options { addr: String::new(), tls: cli.tls, ca: cli.ca, server_name: cli.server_name, login };
    match cli.command {
        Command::Ls { addr } => {
            opts.addr = addr;
            within(timeout, async { pb_cli::ls(&Target::connect(&opts).await?).await }).await
        }
        Command::Describe { addr, iface, schema } => {
            let schema = schema.as_deref().map(pb_cli::load_schema).transpose()?;
            opts.addr = addr;
            within(timeout, async { pb_cli::describe(&Target::connect(&opts).await?, &iface, schema.as_ref()).await })
                .await
        }
        Command::Call { addr, method, args, schema } => {
            let schema = schema.as_deref().map(pb_cli::load_schema).transpose()?;
            opts.addr = addr;
            let value = within(timeout, async {
                let target = Target::connect(&opts).await?;
                pb_cli::call(&target, &method, &args, schema.as_ref()).await
            })
            .await?;
            Ok(format!("{value}\n"))
        }
        Command::Watch { addr, method, args, schema } => {
            let schema = schema.as_deref().map(pb_cli::load_schema).transpose()?;
            opts.addr = addr;
            let target = within(timeout, Target::connect(&opts)).await?;
            pb_cli::watch(&target, &method, &args, schema.as_ref()).await?;
            Ok(String::new())
        }
    }
}

fn password() -> Result<String, Failure> {
    if let Ok(p) = std::env::var("PB_PASSWORD") {
        return Ok(p);
    }
    eprint!("password: ");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).map_err(|e| Failure::usage(format!("reading the password: {e}")))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}
