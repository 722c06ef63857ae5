//! The pb schema language: describe remote objects in a `.pbidl` file and
//! generate the Rust a person would write by hand.
//!
//! `pb-idl` reads schemas (records, enums, errors, interfaces and models),
//! checks them, and writes Rust that uses the same `#[pb::remote_interface]`
//! macro and serde derives as hand-written code, so a peer built from a
//! schema and a hand-written peer are interchangeable: interface and method
//! ids are computed from the same names. It is a command line
//! (`pb-idl check|gen|compat`) and a build.rs library ([`Config`]), and
//! also writes the Python side of a schema for Twisted Perspective Broker
//! (see [Python](#python)).
//!
//! # Tutorial
//!
//! A schema, `schemas/aurora.pbidl`:
//!
//! ```text
//! //! The seed's aurora example.
//! package aurora;
//!
//! /// A user record, passed by copy.
//! record User {
//!     id: u64,
//!     name: string,
//!     email: string,
//! }
//!
//! error UserError {
//!     /// No user with this id.
//!     NotFound(u64) = "no user with id {0}",
//! }
//!
//! /// Dispenses users.
//! interface UserManager throws UserError {
//!     get_user(id: u64) -> User;
//!     add_user(name: string, email: string) -> u64;
//!     list_users() -> list<User>;
//!     @local describe() -> string = "aurora user manager";
//! }
//! ```
//!
//! `build.rs` compiles it into `OUT_DIR` (and tells cargo to rerun when any
//! file read changes):
//!
//! ```no_run
//! pb_idl::Config::new().compile(&["schemas/aurora.pbidl"], &["schemas"]).unwrap();
//! ```
//!
//! and the crate includes one module per package:
//!
//! ```ignore
//! mod aurora {
//!     pb::include_schema!("aurora");
//! }
//! ```
//!
//! The generated `aurora::UserManager` is a `#[pb::remote_interface(name =
//! "aurora.UserManager")]` trait: implement it with `#[pb::remote_impl]`,
//! serve it, or call a proxy, exactly as if it had been written by hand.
//!
//! # The language
//!
//! Grammar (EBNF; `{ x }` is zero or more, `[ x ]` optional; keywords are
//! contextual):
//!
//! ```text
//! file       = "package" path ";" { import | item } ;
//! import     = "import" STRING ";" ;
//! item       = { DOC } { attr } ( record | enum | error | interface | model ) ;
//! record     = "record" IDENT "{" fields "}" ;
//! enum       = "enum" IDENT "{" variants "}" ;
//! error      = "error" IDENT "{" variants "}" ;
//! interface  = "interface" IDENT [ "throws" type ] "{" { method } "}" ;
//! model      = "model" IDENT "{" "state" "{" fields "}" [ "events" "{" variants "}" ] "}" ;
//! method     = { DOC } { attr } IDENT "(" fields ")" [ "->" type ] [ "throws" type ] [ "=" literal ] ";" ;
//! fields     = [ field { "," field } [ "," ] ] ;
//! field      = { DOC } IDENT ":" type ;
//! variants   = [ variant { "," variant } [ "," ] ] ;
//! variant    = { DOC } IDENT [ "(" type { "," type } ")" | "{" fields "}" ] [ "=" STRING ] ;
//! attr       = "@" IDENT [ "(" literal ")" ] ;
//! type       = path [ "<" type { "," type } ">" ] ;
//! path       = IDENT { "." IDENT } ;
//! literal    = STRING | NUMBER | "true" | "false" ;
//! DOC        = "///" text ;           (package docs: "//!" text)
//! ```
//!
//! Comments are `//` and `/* */` (nested). `///` comments document the next
//! declaration, field, variant or method and are carried into the Rust.
//!
//! ## Types
//!
//! | schema | Rust |
//! | --- | --- |
//! | `bool`, `u8`..`u64`, `i8`..`i64`, `f32`, `f64` | the same |
//! | `string` | `String` |
//! | `bytes` | `pb::Blob` (postcard encodes it as a length and the bytes, as a `Vec<u8>`; on pb's wire a large one is neither copied into the frame nor out of it, and on Twisted's it is a Python `bytes`) |
//! | `list<T>` | `Vec<T>` |
//! | `map<K, V>` | `BTreeMap<K, V>`; keys are integers, `bool`, `string` or `bytes` |
//! | `option<T>` | `Option<T>` |
//! | `box<T>` | `Box<T>`: the indirection a recursive record needs |
//! | `ref<I>` | `Arc<dyn I>` as a method argument or result, `pb::Ref<dyn I>` inside data |
//! | `stream<T>` | `pb::Stream<T>`: a sequence of `T`s sent by reference and pulled with backpressure; a result streams from the server, an argument from the client, and it may sit inside data or be an item of another stream (see below) |
//! | `sender<T>` | `pb::Sender<T>`: the sending half of a channel (`pb::channel`), sent by reference: what its receiver sends comes out of the channel's `pb::Stream<T>` on the side that sent it, with a stream's backpressure. It goes where a stream goes (see below) |
//! | record, enum, error | the generated type |
//! | model `M` | `pb::Cache<M>`: a cache of the model (see `model` below) |
//! | `pkg.Name` | a type of an imported package: `super::pkg::Name` |
//!
//! An interface is always passed by reference, written `ref<I>`; using it
//! by value is an error.
//!
//! A `stream<T>`'s items are any data type: records, `ref<I>` (a
//! `pb::Ref<dyn I>`), models (caches), `stream<U>`, `sender<U>`. A stream
//! is sent once (its items go to its first receiver), so it cannot be a map key, be
//! part of a model's state or events (copied to every cache), or be an
//! argument of a `@replay` or `@idempotent` method (which sends its
//! arguments again), directly or inside a record (`resent-stream`); and a
//! type holding one derives no `Clone` (nor `PartialEq`). `stream` is
//! reserved, as the other built-in names are.
//!
//! A `sender<T>` goes where a stream goes, with the same item types: an
//! argument (the callee sends to the caller), a result (the caller sends
//! to the callee), inside data, or an item of a stream or of another
//! sender; not a map key, nor in a model's state or events. Unlike a
//! stream it can be sent again (each sending adds one more stream into its
//! channel), so a `@replay` or `@idempotent` method may take one, and a
//! type holding one derives `Clone` unless a stream in it prevents that
//! (never `PartialEq`). `sender` is reserved too.
//!
//! Interface descriptions (`pb::describe::check`) compare a hash of each
//! method's types, each reduced to its last path segment. A hand-written
//! peer therefore agrees with a generated one when its method signatures
//! name the same types: the table's, or any type postcard encodes the same
//! way (`HashMap` or `BTreeMap` for `map`, `pb::Blob` or `Vec<u8>` for
//! `bytes`; `Box<T>` for `T`), and the model's own name in `Cache<M>`.
//!
//! ## Declarations
//!
//! - `record`: a struct of named fields. It derives `Debug`, serde,
//!   `Clone` when its fields allow (no streams), and `PartialEq`/`Eq` when
//!   they allow (no references, streams or senders; no floats for `Eq`). Enums and
//!   errors derive the same way. Its serde name is `package.Name`: postcard ignores
//!   it, and on Twisted's wire it is the copy tag (`pb.Copyable`) that a
//!   Python peer registers.
//! - `enum`: variants without data, with a tuple `V(T, U)` or with named
//!   fields `V { a: T }`.
//! - `error`: an enum usable as a method's error. Each variant may carry a
//!   message, `NotFound(u64) = "no user with id {0}"` (`{0}` names a
//!   positional field, `{name}` a named one, `{x:?}` uses `Debug`); the
//!   default message is the variant's first doc line, else its name in
//!   words. The generator appends a variant `Pb(pb::Error)` (so transport
//!   failures reach callers through the error type) and implements
//!   `Display`, `std::error::Error` and `From<pb::Error>` itself, so the
//!   crate needs no `thiserror` dependency.
//! - `interface`: a remote interface. Each method is async on the wire and
//!   returns `Result<T, E>`: `T` is the `-> type` (nothing means `()`), `E`
//!   the method's `throws`, else the interface's `throws`, else `pb::Error`.
//!   Its wire name is `package.Name`.
//! - `model`: a cached model (pb's Cacheable): its state and its change
//!   events, both plain data (no references, streams, senders or other models). It generates
//!   `M` (the state, a struct), `MEvent` (an enum), `impl pb::Cacheable for
//!   M` with the model's wire name (`package.M` unless `@name`), and a
//!   trait `MApply` that the crate implements to say how an event changes
//!   the state (a schema cannot carry code):
//!
//!   ```ignore
//!   impl aurora::UserListApply for aurora::UserList {
//!       fn apply_event(&mut self, event: &aurora::UserListEvent) { /* ... */ }
//!   }
//!   ```
//!
//!   A model used as a type (`model() -> UserList;`, or inside data) is a
//!   `pb::Cache<M>`: the peer gets a cache that follows the model (own it
//!   with `pb::Model::new(M { ... })`). A `@replay` method may return one,
//!   so the cache heals after an outage.
//!
//! ## Attributes
//!
//! | attribute | on | meaning |
//! | --- | --- | --- |
//! | `@replay` | method | safe to re-run after an outage to rebuild the reference or cache it returns: must return `ref<I>` or a model, takes no references or streams (a `sender<T>` is fine: it is sent anew) |
//! | `@idempotent` | method | safe to run twice: retried once after healing; takes no streams (it may return one: a retry gets a new one; it may take a `sender<T>`) |
//! | `@local` | method | runs on the caller's side, never crosses the wire. A schema cannot carry code, so a local method takes no arguments and returns the constant after `=`: `@local describe() -> string = "users";` (implementors may override it) |
//! | `@name("x")` | interface, method, model | wire name (ids are derived from it) |
//! | `@id(N)` | interface, method | wire id |
//!
//! ## Imports and packages
//!
//! `import "common.pbidl";` reads another file, looked up next to the
//! importing file, then in each include directory. Its package's types are
//! named `common.Type`. Several files may declare the same package. Each
//! package becomes one Rust file, `<package>.rs` (dots kept: `shop.v1.rs`),
//! that names other packages as sibling modules (`super::common::Type`):
//! include each package in a module of its name with dots as `_`
//! (`shop_v1`), or map it with [`Config::extern_path`].
//!
//! So the packages of one run (the files given to `check`, `gen` or
//! [`Config::compile`], and everything they import) must map to different
//! modules and files; two that do not are an error (`package-clash`):
//!
//! - names equal once dots become `_`: `a.b` and `a_b` are both module
//!   `a_b`, and code that names one reaches the other;
//! - names that differ only in case: `Shop` and `shop` are two modules, but
//!   `Shop.rs` and `shop.rs` are one file where file names ignore case
//!   (macOS, Windows).
//!
//! The rule holds whatever [`Config::extern_path`] maps, so `check` and a
//! build agree. Packages of separate runs (another crate's build) never
//! clash.
//!
//! ## Names
//!
//! Rust keywords (`type`, `fn`, `self`...), built-in type names, names
//! starting with `__`, and `Pb` in errors are reserved. The segments of a
//! package name may not be Rust keywords or start with `__` either
//! (`package app.type;` is an error), so every package's module name is a
//! valid Rust identifier. Types and variants should be UpperCamelCase,
//! fields, arguments, methods and packages snake_case (a warning).
//!
//! ## Nesting depth
//!
//! Peers refuse to decode a message nested deeper than
//! `pb::Config::max_depth` (64 by default; a record, an enum, an `option`,
//! a `list`, a `map`, `bytes`, a `ref`, a `stream` and a `sender` are a
//! level each, a method's argument tuple one more). A declaration or method
//! whose fully filled values go deeper gets a warning naming the chain of
//! declarations. A stream's items travel in replies of their own, three
//! levels below the top (the reply's `Result`, a batch, its list), and so
//! do a sender's (in a stream its receiver sends back): an item type that
//! goes deeper there gets a warning too.
//!
//! # Diagnostics
//!
//! Every problem is reported with its file, line and column, the source
//! line with a caret, and a hint; one run reports all of them. See
//! [`diag::Kind`] for the list. The compiler never panics, whatever the input.
//! At most [`diag::MAX_RENDERED`] diagnostics are printed (errors first),
//! then how many more there are.
//!
//! # Command line
//!
//! ```text
//! pb-idl check FILE... [-I DIR]...          report every error; exit 0 valid, 1 errors
//! pb-idl gen FILE... -o DIR [-I DIR]...     write DIR/<package>.rs for every package
//! pb-idl gen --python FILE... -o DIR ...    write DIR/<package>.py (dots as `_`) instead
//! pb-idl compat OLD NEW [-I DIR]...         list changes; exit 0 compatible, 1 breaking, 2 schema error
//! ```
//!
//! `-I` adds a directory searched for imports. Diagnostics go to stderr;
//! `compat` prints `breaking: path: what` / `compatible: path: what` lines
//! and a summary to stdout. Usage errors exit 2. `pb-idl --help` says the same.
//!
//! # Python
//!
//! pb speaks Twisted Perspective Broker's wire, so a Python program with
//! Twisted can join a pb system built from the same schema. `pb-idl gen
//! --python` ([`Config::compile_python`] in a build script, or
//! [`compile_python`]) writes one module per package, `<package>.py` with
//! dots as `_` (a Python keyword gets a `_` suffix: `lambda_.py`), that
//! imports only `twisted.spread.pb`:
//!
//! | schema | Python |
//! | --- | --- |
//! | `record R` | `R(pb.Copyable)`: copy tag `package.R` (the Rust struct's serde name), state a dict of the fields by schema name; and `RemoteR(R, pb.RemoteCopy)`, registered for the tag with `pb.setUnjellyableForClass` |
//! | `enum E`, `error E` | `E`, builders of values in serde's form, which the Rust side's jelly uses: a unit variant is its name (`"Red"`), another a one-entry dict (`{"Circle": 1.5}`, `{"Pair": (1, 2)}`, `{"Rect": {"w": 1.0, "h": 2.0}}`); `split_variant(value)` reads one |
//! | `model M` | `M(pb.RemoteCache)`, registered for the model's wire name: `setCopyableState`, and per event `observe_<Event>`, which calls `apply_<Event>` (to override: the schema cannot carry code) and then the hook `changed(event)`; `MEvent` builds the events. A Rust `pb::Model` of `M` served over PB's wire feeds it: each event applied calls `observe_<Event>` with the event's fields in order |
//! | `interface I` | `I(pb.Referenceable)` with a `remote_<wire name>` stub per method raising `NotImplementedError`, to implement in Python; `IClient(reference)`, one method per method doing `reference.callRemote("<wire name>", ...)` (a `@local` one returns its constant) |
//! | `stream<T>` | nothing: pb's streams do not cross to Twisted. A method passing one (an argument or result, or inside a record or enum) has no `remote_` stub, a comment in its place saying why, and its `IClient` method raises `NotImplementedError`; a record or enum holding one says so in its docstring |
//! | `sender<T>` | nothing, as `stream<T>`: a sender's items come back in a pb stream |
//!
//! `bytes` is a Python `bytes` on this wire (a jelly string; a list of ints
//! from 0 to 255 is taken too). A Python exception raised in a `remote_` method reaches pb
//! as `pb::Error::Remote`, not as the method's error type. Names that are
//! Python keywords or would hide Twisted's attributes get a `_` suffix in
//! Python; the names on the wire never change. A schema Python cannot
//! express (two classes of one name, such as a record `RemoteUser` beside a
//! record `User`, or a method whose `@name` is no Python identifier) is an
//! error of `gen --python` alone.
//!
//! # Compatibility
//!
//! [`compat::compare`] (`pb-idl compat OLD NEW`) lists each change between
//! two versions of a schema as compatible or breaking. See [`compat`] for
//! the rules.

#![warn(missing_docs)]

use std::collections::BTreeMap;
use std::path::PathBuf;

pub mod ast;
mod check;
mod codegen;
pub mod compat;
mod config;
mod depth;
pub mod diag;
mod iface;
pub mod ir;
pub mod lexer;
mod load;
mod message;
mod names;
pub mod parser;
mod python;
mod resolve;
pub mod span;
mod view;

pub use codegen::{GenOptions, Generated};
pub use config::{Config, Error, compile, compile_python};
pub use diag::{Diagnostic, Severity};
pub use pb_ids::{interface_id, method_id};
pub use span::{FileId, SourceMap, Span};

/// The result of reading and checking schemas: the sources, every
/// diagnostic, and the checked schema (complete only without errors).
pub struct Checked {
    /// Every file read.
    pub sources: SourceMap,
    /// Every problem found, in the order found.
    pub diagnostics: Vec<Diagnostic>,
    /// The checked schema.
    pub schema: ir::Schema,
    file_names: Vec<String>,
}

impl Checked {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// Every diagnostic rendered, followed by a count.
    pub fn render(&self) -> String {
        diag::render_all(&self.diagnostics, &self.sources)
    }

    /// One line for a schema without errors: what was checked.
    /// `ok: 2 files, 2 packages, 1 interface, 3 records, 1 error type`.
    pub fn summary(&self) -> String {
        let count = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let files = self.file_names.len();
        let mut parts = vec![count(files, "file", "files"), count(self.schema.packages.len(), "package", "packages")];
        let kinds = [
            ("interface", "interfaces"),
            ("record", "records"),
            ("enum", "enums"),
            ("error type", "error types"),
            ("model", "models"),
        ];
        for (i, (one, many)) in kinds.iter().enumerate() {
            let n = self.schema.defs.iter().filter(|d| kind_index(&d.kind) == i).count();
            if n > 0 {
                parts.push(count(n, one, many));
            }
        }
        format!("ok: {}", parts.join(", "))
    }

    /// Generate one Rust file per package.
    ///
    /// # Errors
    ///
    /// If the schema has errors, or `opts` names invalid paths.
    pub fn generate(&self, opts: &GenOptions) -> Result<Vec<Generated>, String> {
        if self.has_errors() {
            return Err("the schema has errors".into());
        }
        codegen::generate(&self.schema, opts, &self.file_names)
    }

    /// Generate one Python module per package, `<package>.py` with dots as
    /// `_` (`shop.v1` is `shop_v1.py`): the Twisted Perspective Broker side of
    /// the schema (see [Python](crate#python)). Packages in
    /// `opts.extern_paths` are left out; `opts.pb_path` is not used.
    ///
    /// # Errors
    ///
    /// If the schema has errors, or cannot be Python: two generated classes
    /// of one name in a module, two declarations under one copy tag, or a
    /// method whose wire name is not a Python identifier.
    pub fn generate_python(&self, opts: &GenOptions) -> Result<Vec<Generated>, String> {
        if self.has_errors() {
            return Err("the schema has errors".into());
        }
        python::generate(&self.schema, opts, &self.file_names)
    }
}

/// Read, parse and check `files` and their imports (looked up next to the
/// importing file, then in `includes`).
pub fn check_files(files: &[PathBuf], includes: &[PathBuf]) -> Checked {
    let mut diags = Vec::new();
    let loaded = load::load(files, &load::Source::Fs { includes }, &mut diags);
    finish(loaded, diags)
}

/// Check in-memory schemas: `files` maps names to text, `roots` are the
/// names to start from; imports name other entries of `files`.
pub fn check_sources(files: &BTreeMap<String, String>, roots: &[&str]) -> Checked {
    let mut diags = Vec::new();
    let roots: Vec<PathBuf> = roots.iter().map(PathBuf::from).collect();
    let loaded = load::load(&roots, &load::Source::Memory(files), &mut diags);
    finish(loaded, diags)
}

/// Check one in-memory schema named `name`.
pub fn check_str(name: &str, text: &str) -> Checked {
    let mut files = BTreeMap::new();
    files.insert(name.to_string(), text.to_string());
    check_sources(&files, &[name])
}

/// The position of a declaration kind in [`Checked::summary`].
fn kind_index(kind: &ir::DefKind) -> usize {
    match kind {
        ir::DefKind::Interface(_) => 0,
        ir::DefKind::Record(_) => 1,
        ir::DefKind::Enum(_) => 2,
        ir::DefKind::Error(_) => 3,
        ir::DefKind::Model { .. } => 4,
    }
}

fn finish(loaded: load::Loaded, mut diags: Vec<Diagnostic>) -> Checked {
    let mut schema = resolve::resolve(&loaded, &mut diags);
    check::check(&mut schema, &mut diags);
    let file_names = (0..loaded.files.len()).map(|i| loaded.sources.name(FileId(i)).to_string()).collect();
    Checked { sources: loaded.sources, diagnostics: diags, schema, file_names }
}
