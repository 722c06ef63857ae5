//! The build.rs API (prost-build style): a [`Config`] builder whose setters
//! return `&mut Self`, and one-line [`compile`] and [`compile_python`] free
//! functions.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::codegen::GenOptions;

/// Why [`Config::compile`] failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The schema has errors; the payload is every diagnostic, rendered.
    Schema(String),
    /// Writing the output failed.
    Io(std::io::Error),
    /// No output directory: `OUT_DIR` is unset and none was configured.
    NoOutDir,
    /// A configured path does not parse as a Rust path.
    Config(String),
    /// The schema cannot be expressed in Python ([`Config::compile_python`]).
    Python(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Schema(d) => write!(f, "invalid schema:\n{d}"),
            Error::Io(e) => write!(f, "cannot write generated code: {e}"),
            Error::NoOutDir => write!(f, "OUT_DIR is not set: call compile from a build script, or set `out_dir`"),
            Error::Config(e) => write!(f, "{e}"),
            Error::Python(e) => write!(f, "cannot generate Python: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// Compiles schemas to Rust from a build script.
///
/// # Examples
///
/// In `build.rs`:
///
/// ```no_run
/// pb_idl::Config::new().compile(&["schemas/aurora.pbidl"], &["schemas"]).unwrap();
/// ```
///
/// and in the crate, one module per package:
///
/// ```ignore
/// mod aurora {
///     pb::include_schema!("aurora");
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    out_dir: Option<PathBuf>,
    opts: GenOptions,
    rerun: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config { out_dir: None, opts: GenOptions::default(), rerun: true }
    }
}

impl Config {
    /// The default configuration: write to `OUT_DIR`, name the facade `::pb`.
    pub fn new() -> Config {
        Config::default()
    }

    /// Write the generated files to `dir` instead of `OUT_DIR`.
    pub fn out_dir(&mut self, dir: impl Into<PathBuf>) -> &mut Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// The path of the `pb` facade in generated code (default `::pb`), for a
    /// crate that renamed its dependency.
    pub fn pb_path(&mut self, path: impl Into<String>) -> &mut Self {
        self.opts.pb_path = path.into();
        self
    }

    /// Do not generate `package`; refer to its types at `rust_path` (for
    /// example `::common_schemas::common`). Other imported packages are
    /// generated too and referred to as sibling modules (`super::<package>`).
    pub fn extern_path(&mut self, package: impl Into<String>, rust_path: impl Into<String>) -> &mut Self {
        self.opts.extern_paths.insert(package.into(), rust_path.into());
        self
    }

    /// Whether to print `cargo:rerun-if-changed` for every file read (default true).
    pub fn emit_rerun_if_changed(&mut self, yes: bool) -> &mut Self {
        self.rerun = yes;
        self
    }

    /// Compile `files` (and their imports, looked up next to the importing
    /// file, then in `includes`) and write one `<package>.rs` per package.
    /// Returns the paths written.
    ///
    /// # Errors
    ///
    /// [`Error::Schema`] with every diagnostic rendered if the schema is
    /// invalid; [`Error::Io`] if the output cannot be written.
    pub fn compile(&self, files: &[impl AsRef<Path>], includes: &[impl AsRef<Path>]) -> Result<Vec<PathBuf>, Error> {
        self.run(files, includes, |checked| checked.generate(&self.opts).map_err(Error::Config))
    }

    /// Compile `files` as [`compile`](Self::compile) does, but write the
    /// Python side instead: one Twisted Perspective Broker module per
    /// package, `<package>.py` with dots as `_` (see
    /// [Python](crate#python)). Usually with [`out_dir`](Self::out_dir) set
    /// to the Python project's package directory. Returns the paths written.
    ///
    /// # Errors
    ///
    /// As [`compile`](Self::compile), and [`Error::Python`] if the schema
    /// cannot be expressed in Python.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// pb_idl::Config::new()
    ///     .out_dir("python/aurora_pb")
    ///     .emit_rerun_if_changed(false)
    ///     .compile_python(&["schemas/aurora.pbidl"], &["schemas"])
    ///     .unwrap();
    /// ```
    pub fn compile_python(
        &self,
        files: &[impl AsRef<Path>],
        includes: &[impl AsRef<Path>],
    ) -> Result<Vec<PathBuf>, Error> {
        self.run(files, includes, |checked| checked.generate_python(&self.opts).map_err(Error::Python))
    }

    /// Check `files`, report to cargo, generate with `generate` and write.
    fn run(
        &self,
        files: &[impl AsRef<Path>],
        includes: &[impl AsRef<Path>],
        generate: impl FnOnce(&crate::Checked) -> Result<Vec<crate::Generated>, Error>,
    ) -> Result<Vec<PathBuf>, Error> {
        let files: Vec<PathBuf> = files.iter().map(|f| f.as_ref().to_path_buf()).collect();
        let includes: Vec<PathBuf> = includes.iter().map(|f| f.as_ref().to_path_buf()).collect();
        let checked = crate::check_files(&files, &includes);
        if self.rerun {
            for line in rerun_lines(&checked, &files) {
                println!("{line}");
            }
        }
        for d in checked.diagnostics.iter().filter(|d| !d.is_error()) {
            for line in d.render(&checked.sources).lines() {
                println!("cargo:warning={line}");
            }
        }
        if checked.has_errors() {
            return Err(Error::Schema(checked.render()));
        }
        let out_dir = match &self.out_dir {
            Some(d) => d.clone(),
            None => std::env::var_os("OUT_DIR").map(PathBuf::from).ok_or(Error::NoOutDir)?,
        };
        let generated = generate(&checked)?;
        std::fs::create_dir_all(&out_dir).map_err(Error::Io)?;
        let mut written = Vec::new();
        for g in generated {
            let path = out_dir.join(&g.file_name);
            write_if_changed(&path, &g.code).map_err(Error::Io)?;
            written.push(path);
        }
        Ok(written)
    }
}

/// `cargo:rerun-if-changed` for every file read, and for roots that could
/// not be read (so cargo reruns once they exist).
fn rerun_lines(checked: &crate::Checked, roots: &[PathBuf]) -> Vec<String> {
    let read: Vec<&Path> = checked.sources.paths().collect();
    let missing = roots.iter().map(PathBuf::as_path).filter(|r| !read.contains(r));
    read.iter().copied().chain(missing).map(|p| format!("cargo:rerun-if-changed={}", p.display())).collect()
}

/// Write `code` unless the file already holds it (keeps mtimes stable).
pub(crate) fn write_if_changed(path: &Path, code: &str) -> std::io::Result<()> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == code) {
        return Ok(());
    }
    std::fs::write(path, code)
}

/// `Config::new().compile(files, includes)`.
///
/// # Errors
///
/// As [`Config::compile`].
pub fn compile(files: &[impl AsRef<Path>], includes: &[impl AsRef<Path>]) -> Result<Vec<PathBuf>, Error> {
    Config::new().compile(files, includes)
}

/// `Config::new().out_dir(out_dir).compile_python(files, includes)`: the
/// Python side of the schemas, one module per package, into `out_dir`.
///
/// # Errors
///
/// As [`Config::compile_python`].
pub fn compile_python(
    files: &[impl AsRef<Path>],
    includes: &[impl AsRef<Path>],
    out_dir: impl Into<PathBuf>,
) -> Result<Vec<PathBuf>, Error> {
    Config::new().out_dir(out_dir).compile_python(files, includes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rerun_for_every_file_read_and_missing_roots() {
        let dir = std::env::temp_dir().join(format!("pb-idl-rerun-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.pbidl"), "package a;\nimport \"b.pbidl\";\nrecord A { b: b.B }\n").unwrap();
        std::fs::write(dir.join("b.pbidl"), "package b;\nrecord B { x: u8 }\n").unwrap();
        let roots = [dir.join("a.pbidl"), dir.join("missing.pbidl")];
        let checked = crate::check_files(&roots, &[]);
        let lines = rerun_lines(&checked, &roots);
        let expect: Vec<String> = ["a.pbidl", "b.pbidl", "missing.pbidl"]
            .iter()
            .map(|f| format!("cargo:rerun-if-changed={}", dir.join(f).display()))
            .collect();
        assert_eq!(lines, expect);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
