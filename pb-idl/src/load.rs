//! Reading schema files and following their imports.
//!
//! An import `import "x.pbidl";` is looked up relative to the importing
//! file's directory first, then in each include directory in order. Every
//! file is read once, however many files import it (cycles are fine).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::ast;
use crate::diag::{Diagnostic, Kind};
use crate::span::{FileId, SourceMap};
use crate::{lexer, parser};

/// Where schema text comes from.
pub enum Source<'a> {
    /// The file system, with include directories.
    Fs {
        /// Directories searched for imports after the importing file's own.
        includes: &'a [PathBuf],
    },
    /// Named in-memory texts; imports name other entries exactly.
    Memory(&'a BTreeMap<String, String>),
}

/// Every file parsed, with the imports resolved to files.
pub struct Loaded {
    /// The files' text.
    pub sources: SourceMap,
    /// Parsed files, indexed like their `FileId`s.
    pub files: Vec<ast::File>,
    /// For each file, the files its imports resolved to.
    pub imports: Vec<Vec<FileId>>,
    /// How many of `files` are roots (the first ones).
    pub roots: usize,
}

/// Read and parse `roots` and everything they import.
pub fn load(roots: &[PathBuf], source: &Source<'_>, diags: &mut Vec<Diagnostic>) -> Loaded {
    let mut l = Loaded { sources: SourceMap::new(), files: Vec::new(), imports: Vec::new(), roots: 0 };
    let mut seen: HashMap<PathBuf, FileId> = HashMap::new();
    let mut queue: Vec<FileId> = Vec::new();
    for root in roots {
        match read(root, source) {
            Ok((key, text)) => {
                if seen.contains_key(&key) {
                    continue;
                }
                let id = add(&mut l, root, source, text, diags);
                seen.insert(key, id);
                queue.push(id);
            }
            Err(e) => diags.push(Diagnostic {
                span: None,
                ..Diagnostic::error(Kind::Io, Default::default(), format!("cannot read `{}`: {e}", root.display()))
            }),
        }
    }
    l.roots = l.files.len();
    let mut next = 0;
    while let Some(&file) = queue.get(next) {
        next += 1;
        let imports = l.files[file.0].imports.clone();
        let dir = l.sources.path(file).and_then(Path::parent).map(Path::to_path_buf);
        for import in imports {
            let candidates = candidates(&import.path, dir.as_deref(), source);
            let mut found = None;
            for c in &candidates {
                match read(c, source) {
                    Ok((key, text)) => found = Some(Ok((c.clone(), key, text))),
                    Err(ReadError::NotFound(_)) => continue,
                    Err(ReadError::Other(e)) => found = Some(Err(format!("cannot read `{}`: {e}", c.display()))),
                }
                break;
            }
            let found = match found {
                Some(Ok(found)) => Some(found),
                Some(Err(message)) => {
                    diags.push(Diagnostic::error(Kind::Import, import.span, message).label("imported here"));
                    continue;
                }
                None => None,
            };
            let Some((path, key, text)) = found else {
                let tried = candidates.iter().map(|c| format!("`{}`", c.display())).collect::<Vec<_>>().join(", ");
                diags.push(
                    Diagnostic::error(Kind::Import, import.span, format!("cannot find `{}`", import.path))
                        .label("imported here")
                        .hint(match source {
                            Source::Fs { .. } => format!(
                                "looked at {tried}; pass the directory that holds it as an include directory (`-I DIR`)"
                            ),
                            Source::Memory(_) => "no such file was given".to_string(),
                        }),
                );
                continue;
            };
            let id = match seen.get(&key) {
                Some(id) => *id,
                None => {
                    let id = add(&mut l, &path, source, text, diags);
                    seen.insert(key, id);
                    queue.push(id);
                    id
                }
            };
            if !l.imports[file.0].contains(&id) {
                l.imports[file.0].push(id);
            }
        }
    }
    l
}

fn add(l: &mut Loaded, path: &Path, source: &Source<'_>, text: String, diags: &mut Vec<Diagnostic>) -> FileId {
    let on_disk = matches!(source, Source::Fs { .. }).then(|| path.to_path_buf());
    let id = l.sources.add(path.display().to_string(), on_disk, text);
    let lexed = lexer::lex(id, l.sources.text(id), diags);
    l.files.push(parser::parse(id, lexed, diags));
    l.imports.push(Vec::new());
    id
}

/// Where an import may be, in the order looked at.
fn candidates(import: &str, dir: Option<&Path>, source: &Source<'_>) -> Vec<PathBuf> {
    match source {
        Source::Memory(_) => vec![PathBuf::from(import)],
        Source::Fs { includes } => {
            let mut out = Vec::new();
            if Path::new(import).is_absolute() {
                out.push(PathBuf::from(import));
                return out;
            }
            out.push(dir.map_or_else(|| PathBuf::from(import), |d| d.join(import)));
            out.extend(includes.iter().map(|i| i.join(import)));
            out
        }
    }
}

/// Why a file could not be read.
enum ReadError {
    /// There is no such file (an import looks further).
    NotFound(String),
    /// It exists but cannot be used.
    Other(String),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::NotFound(e) | ReadError::Other(e) => f.write_str(e),
        }
    }
}

/// The text of `path` and a key that identifies the file.
fn read(path: &Path, source: &Source<'_>) -> Result<(PathBuf, String), ReadError> {
    match source {
        Source::Memory(files) => {
            let name = path.to_string_lossy();
            files
                .get(name.as_ref())
                .map(|t| (path.to_path_buf(), t.clone()))
                .ok_or_else(|| ReadError::NotFound("no such file".to_string()))
        }
        Source::Fs { .. } => {
            let bytes = std::fs::read(path).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => ReadError::NotFound(e.to_string()),
                _ => ReadError::Other(e.to_string()),
            })?;
            let text =
                String::from_utf8(bytes).map_err(|e| ReadError::Other(not_utf8(e.as_bytes(), e.utf8_error())))?;
            let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
            Ok((key, text))
        }
    }
}

/// Where a file stops being UTF-8: byte offset, line and column (of the
/// valid text before it).
fn not_utf8(bytes: &[u8], e: std::str::Utf8Error) -> String {
    let at = e.valid_up_to();
    let before = std::str::from_utf8(&bytes[..at]).unwrap_or_default();
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    let byte = bytes.get(at).map_or(String::new(), |b| format!(" ({b:#04x})"));
    format!("invalid UTF-8 at byte {at}{byte}, line {line}, column {column}; save the file as UTF-8")
}
