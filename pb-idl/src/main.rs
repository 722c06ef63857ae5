//! The `pb-idl` command line: a thin binary over the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

const AFTER_HELP: &str = "\
Exit codes:
  check, gen:  0 the schema is valid (warnings may be printed),
               1 the schemas have errors or cannot be read (all are printed
                 to stderr), or (gen --python) cannot be expressed in Python,
               2 bad usage or an I/O error.
  compat:      0 every change is compatible (or nothing changed),
               1 at least one change is breaking,
               2 either schema has errors, bad usage, or an I/O error.

Diagnostics go to stderr as `error[kind]: message` with file:line:col, the
source line, a caret under the problem and a `help:` line. A `check` without
errors prints one line to stdout: `ok: ` and what was checked. `compat`
prints one line per change to stdout: `breaking: ...` or `compatible: ...`.";

/// Compiler of the pb schema language (`.pbidl` files).
#[derive(Parser)]
#[command(name = "pb-idl", version, about, after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check schemas and report every error at once.
    #[command(after_help = AFTER_HELP)]
    Check {
        /// Schema files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Directories searched for imports (after the importing file's own).
        #[arg(short = 'I', long = "include")]
        includes: Vec<PathBuf>,
    },
    /// Generate Rust: one `<package>.rs` per package into DIR (with
    /// `--python`, one Python module `<package>.py` per package instead).
    #[command(after_help = AFTER_HELP)]
    Gen {
        /// Schema files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Output directory (created if missing).
        #[arg(short = 'o', long = "out")]
        out: PathBuf,
        /// Directories searched for imports (after the importing file's own).
        #[arg(short = 'I', long = "include")]
        includes: Vec<PathBuf>,
        /// Path of the `pb` crate in generated code.
        #[arg(long, default_value = "::pb")]
        pb_path: String,
        /// Generate the Python side instead: a Twisted Perspective Broker
        /// module per package (dots in its name become `_`: `shop_v1.py`).
        #[arg(long, conflicts_with = "pb_path")]
        python: bool,
    },
    /// Compare two versions of a schema: each change, compatible or breaking.
    #[command(after_help = AFTER_HELP)]
    Compat {
        /// The old version.
        old: PathBuf,
        /// The new version.
        new: PathBuf,
        /// Directories searched for imports (after the importing file's own).
        #[arg(short = 'I', long = "include")]
        includes: Vec<PathBuf>,
        /// Peers on Twisted's wire too (Python from `gen --python`): field
        /// and variant names travel there, so renaming one is breaking.
        #[arg(long)]
        twisted: bool,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    ExitCode::from(run(cli.command))
}

fn run(command: Command) -> u8 {
    match command {
        Command::Check { files, includes } => {
            let checked = pb_idl::check_files(&files, &includes);
            eprint!("{}", checked.render());
            if checked.has_errors() {
                return 1;
            }
            println!("{}", checked.summary());
            0
        }
        Command::Gen { files, out, includes, pb_path, python } => {
            let checked = pb_idl::check_files(&files, &includes);
            eprint!("{}", checked.render());
            if checked.has_errors() {
                return 1;
            }
            let opts = pb_idl::GenOptions { pb_path, ..Default::default() };
            let generated = if python { checked.generate_python(&opts) } else { checked.generate(&opts) };
            let generated = match generated {
                Ok(g) => g,
                Err(e) => {
                    eprintln!("error: {e}");
                    // A bad `--pb-path` is usage; a schema Python cannot express is the schema's.
                    return if python { 1 } else { 2 };
                }
            };
            if let Err(e) = std::fs::create_dir_all(&out) {
                eprintln!("error: cannot create `{}`: {e}", out.display());
                return 2;
            }
            for g in generated {
                let path = out.join(&g.file_name);
                if let Err(e) = std::fs::write(&path, &g.code) {
                    eprintln!("error: cannot write `{}`: {e}", path.display());
                    return 2;
                }
                println!("wrote {}", path.display());
            }
            0
        }
        Command::Compat { old, new, includes, twisted } => {
            let old = pb_idl::check_files(&[old], &includes);
            let new = pb_idl::check_files(&[new], &includes);
            eprint!("{}", old.render());
            eprint!("{}", new.render());
            if old.has_errors() || new.has_errors() {
                return 2;
            }
            let peers = if twisted { pb_idl::compat::Peers::WithTwisted } else { pb_idl::compat::Peers::Pb };
            let changes = pb_idl::compat::compare_for(&old.schema, &new.schema, peers);
            print!("{}", pb_idl::compat::render(&changes));
            if changes.iter().any(|c| c.breaking) { 1 } else { 0 }
        }
    }
}
