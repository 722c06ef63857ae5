//! The `pb` command: look inside running pb systems.
//!
//! A thin binary (`src/main.rs`) over this library, so tests drive the same
//! code:
//!
//! - [`ls`]: what a server's root and registry serve (through relays too);
//! - [`describe`]: one interface as the peer describes it, in `.pbidl` syntax;
//! - [`call`]: call a method with JSON arguments, print the result as JSON;
//! - [`watch`]: follow a cached model obtained through a method, as JSON lines.
//!
//! Peers describe their interfaces by name, id and method, and (since
//! version 2 of the description) their methods' argument, result and error
//! types, which [`peer_schema`] writes as a `.pbidl` schema. Older peers, and
//! types that do not describe themselves, need a schema (`--schema
//! FILE.pbidl`). Values go through [`codec`], which encodes JSON into
//! postcard by a schema type and back.

pub mod codec;
pub mod peer_schema;
mod raw;
mod target;
mod watch;

use std::fmt::Write as _;
use std::path::Path;

use pb::describe::InterfaceDescription;
use pb_idl::ir::{DefKind, Interface, Schema, Ty};
use serde_json::Value;

pub use target::{Options, Target};

/// Exit codes (also listed in `pb --help`).
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// The remote method (or the peer) answered with an error.
    pub const REMOTE: u8 = 1;
    /// The command line, the schema or the JSON was wrong.
    pub const USAGE: u8 = 2;
    /// The server could not be reached (or the link failed).
    pub const CONNECTION: u8 = 3;
}

/// A failed command: what to print on stderr, and the exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// One of [`exit`]'s codes.
    pub code: u8,
    /// The message.
    pub message: String,
}

impl Failure {
    /// A usage error (exit code 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Failure { code: exit::USAGE, message: message.into() }
    }

    /// A remote error (exit code 1).
    pub fn remote(message: impl Into<String>) -> Self {
        Failure { code: exit::REMOTE, message: message.into() }
    }

    /// A `pb::Error` from the peer or the link: a link failure is a
    /// connection error (3), anything else a remote error (1).
    pub fn from_pb(context: &str, e: &pb::Error) -> Self {
        let code = if e.is_link_failure() || matches!(e, pb::Error::Io(_)) { exit::CONNECTION } else { exit::REMOTE };
        Failure { code, message: format!("{context}: {e}") }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// `pb ls`: the root's interface, then what its registry lists.
///
/// # Errors
///
/// The peer could not be asked.
pub async fn ls(target: &Target) -> Result<String, Failure> {
    let root = target.root_description().await?;
    let mut out = format!("root  {}  {:#018x}\n", root.name, root.id);
    if let Some(registry) = target.registry() {
        let listings = registry.list().await.map_err(|e| Failure::from_pb("listing the registry", &e))?;
        for l in listings {
            let name = l.name.as_deref().map(|n| format!("  name={n}")).unwrap_or_default();
            let fwd = if l.forwarded { "  (forwarded)" } else { "" };
            let _ = writeln!(out, "      {}  {:#018x}{name}{fwd}", l.interface, l.interface_id);
        }
    }
    Ok(out)
}

/// `pb describe`: interface `iface` as the peer describes it, in `.pbidl`
/// syntax (with argument and result types when `schema` has them).
///
/// # Errors
///
/// No such interface on the peer, or the peer could not be asked.
pub async fn describe(target: &Target, iface: &str, schema: Option<&Schema>) -> Result<String, Failure> {
    let (_, desc, types) = target.find(iface).await?;
    if schema.is_none()
        && let Some(types) = &types
    {
        return Ok(peer_schema::render(&desc, types));
    }
    let local = schema.and_then(|s| find_interface(s, &desc.name).map(|i| (s, i)));
    Ok(render(&desc, local))
}

/// `pb call`: call `iface.method` with `args` (a JSON list of the
/// arguments, an object by argument name, or the single argument itself)
/// and return the result as JSON.
///
/// # Errors
///
/// Usage errors (unknown interface or method, JSON that does not fit), a
/// remote error (the method's error value, as JSON), a link failure.
pub async fn call(target: &Target, path: &str, args: &str, schema: Option<&Schema>) -> Result<Value, Failure> {
    let Prepared { handle, name, schema, id, ret, err, bytes } = prepare(target, path, args, schema).await?;
    if let Ty::Def(d) = &ret
        && matches!(schema.defs[*d].kind, DefKind::Model { .. })
    {
        return Err(Failure::usage(format!(
            "`{name}` returns a cached model (`{}`), which `pb call` cannot show: use `pb watch`",
            schema.qualified(*d)
        )));
    }
    let schema = &schema;
    let reply = raw::call(&handle, id, bytes).await.map_err(|e| Failure::from_pb(&name, &e))?;
    let mut input = reply.as_slice();
    let bad = |e: String| Failure::remote(format!("the reply of `{name}` does not decode: {e}"));
    match input.first() {
        Some(0) => {
            input = &input[1..];
            codec::decode(schema, &ret, &mut input).map_err(bad)
        }
        Some(1) => {
            input = &input[1..];
            let err = match err {
                Some(e) => codec::decode(schema, &Ty::Def(e), &mut input),
                None => codec::pb_error(&mut input),
            }
            .map_err(bad)?;
            Err(Failure::remote(serde_json::json!({ "error": err }).to_string()))
        }
        _ => Err(bad("not a result".into())),
    }
}

/// `pb watch`: call `iface.method` (which returns a cached model) and print
/// the model's state, then each change, as JSON lines until the link
/// closes (or the command is interrupted).
///
/// # Errors
///
/// As [`call`]; a usage error if the method returns no cached model; a
/// connection error when the link closes.
pub async fn watch(target: &Target, path: &str, args: &str, schema: Option<&Schema>) -> Result<(), Failure> {
    let Prepared { handle, name, schema, id, ret, err, bytes } = prepare(target, path, args, schema).await?;
    let model = match &ret {
        Ty::Def(d) if matches!(schema.defs[*d].kind, DefKind::Model { .. }) => *d,
        other => {
            return Err(Failure::usage(format!(
                "`{name}` returns {}, not a cached model: use `pb call`",
                schema.display(other)
            )));
        }
    };
    watch::watch(&handle, id, bytes, std::sync::Arc::new(schema), model, err, target.connection()).await
}

/// A call ready to send: the object, the schema it is encoded by, the
/// method and its encoded arguments.
struct Prepared {
    handle: pb::ProxyHandle,
    name: String,
    schema: Schema,
    id: u32,
    ret: Ty,
    err: Option<usize>,
    bytes: Vec<u8>,
}

async fn prepare(target: &Target, path: &str, args: &str, schema: Option<&Schema>) -> Result<Prepared, Failure> {
    let (iface, method) = path.rsplit_once('.').ok_or_else(|| {
        Failure::usage(format!("`{path}`: expected INTERFACE.method (for example `UserManager.get_user`)"))
    })?;
    let (object, desc, types) = target.find(iface).await?;
    let Some(peer_method) = desc.methods.iter().find(|m| m.name == method) else {
        let names: Vec<&str> = desc.methods.iter().map(|m| m.name.as_str()).collect();
        return Err(Failure::usage(format!(
            "interface `{}` has no method `{method}` (it has: {})",
            desc.name,
            names.join(", ")
        )));
    };
    let schema = resolve_schema(schema, &desc, types.as_ref(), method)?.into_owned();
    let local = find_interface(&schema, &desc.name)
        .ok_or_else(|| Failure::usage(format!("the schema has no interface `{}`", desc.name)))?;
    let index = local
        .methods
        .iter()
        .position(|m| m.wire_name == method || m.name == method)
        .ok_or_else(|| Failure::usage(format!("the schema's `{}` has no method `{method}`", desc.name)))?;
    let m = &local.methods[index];
    if m.id != peer_method.id {
        return Err(Failure::usage(format!(
            "method `{method}` has id {:#x} in the schema and {:#x} on the peer: not the same interface version",
            m.id, peer_method.id
        )));
    }
    let json: Value =
        serde_json::from_str(args).map_err(|e| Failure::usage(format!("the arguments are not valid JSON: {e}")))?;
    let values = arguments(&m.args, json, &desc.name, method)?;
    let mut bytes = Vec::new();
    for (f, v) in m.args.iter().zip(&values) {
        codec::encode(&schema, &f.ty, v, &mut bytes)
            .map_err(|e| Failure::usage(format!("argument `{}`: {e}", f.name)))?;
    }
    let handle = object.remote_handle().ok_or_else(|| Failure::usage("the object is not remote"))?;
    let (id, ret, err) = (m.id, m.ret.clone(), m.err);
    Ok(Prepared { handle, name: format!("{}.{method}", desc.name), schema, id, ret, err, bytes })
}

/// The schema to encode a call of `desc.method` by: the one given, else
/// the peer's own description.
fn resolve_schema<'a>(
    schema: Option<&'a Schema>,
    desc: &InterfaceDescription,
    types: Option<&pb::describe::types::TypeTable>,
    method: &str,
) -> Result<std::borrow::Cow<'a, Schema>, Failure> {
    match (schema, types) {
        (Some(s), _) => Ok(std::borrow::Cow::Borrowed(s)),
        (None, Some(types)) => {
            let text = peer_schema::render(desc, types);
            let why =
                text.lines().find_map(|l| l.trim().strip_prefix(&format!("// {method}(..): ")).map(str::to_string));
            if let Some(why) = why {
                return Err(Failure::usage(format!(
                    "`{}.{method}` cannot be called from its description ({why}): give its types with --schema FILE.pbidl",
                    desc.name
                )));
            }
            let checked = pb_idl::check_str("peer.pbidl", &text);
            if checked.has_errors() {
                return Err(Failure::usage(format!(
                    "the peer's description of `{}` is not a valid schema ({}); give one with --schema FILE.pbidl",
                    desc.name,
                    checked.summary()
                )));
            }
            Ok(std::borrow::Cow::Owned(checked.schema))
        }
        (None, None) => Err(Failure::usage(format!(
            "the peer does not describe the types of `{}.{method}`: give them with --schema FILE.pbidl",
            desc.name
        ))),
    }
}

/// The argument values of a method from the JSON given.
fn arguments(args: &[pb_idl::ir::Field], json: Value, iface: &str, method: &str) -> Result<Vec<Value>, Failure> {
    let count = |n: usize| {
        let names: Vec<String> = args.iter().map(|a| format!("{}: …", a.name)).collect();
        Failure::usage(format!("`{iface}.{method}({})` takes {} argument(s), {n} given", names.join(", "), args.len()))
    };
    match json {
        Value::Array(items) if args.len() != 1 || items.len() == 1 && !matches!(args[0].ty, Ty::List(_)) => {
            if items.len() != args.len() {
                return Err(count(items.len()));
            }
            Ok(items)
        }
        Value::Object(mut m) if args.len() != 1 || args.iter().all(|a| m.contains_key(&a.name)) && m.len() == 1 => {
            let values = args.iter().map(|a| m.remove(&a.name).unwrap_or(Value::Null)).collect();
            if let Some(extra) = m.keys().next() {
                return Err(Failure::usage(format!("`{iface}.{method}` has no argument `{extra}`")));
            }
            Ok(values)
        }
        Value::Null if args.is_empty() => Ok(Vec::new()),
        single if args.len() == 1 => Ok(vec![single]),
        _ => Err(count(1)),
    }
}

/// Interface `name` (its wire name, or its name in the schema).
pub fn find_interface<'a>(schema: &'a Schema, name: &str) -> Option<&'a Interface> {
    schema.defs.iter().find_map(|d| match &d.kind {
        DefKind::Interface(i) if i.wire_name == name || d.name == name => Some(i),
        _ => None,
    })
}

/// Load and check a schema file (and the files it imports, from its
/// directory).
///
/// # Errors
///
/// The schema has errors (rendered as `pb-idl check` does).
pub fn load_schema(path: &Path) -> Result<Schema, Failure> {
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let checked = pb_idl::check_files(&[path.to_path_buf()], &[dir]);
    if checked.has_errors() {
        return Err(Failure::usage(format!("the schema {} has errors:\n{}", path.display(), checked.render())));
    }
    Ok(checked.schema)
}

/// `desc` in `.pbidl` syntax; with the schema's interface of the same
/// name, each method the peer has gets its types and options.
fn render(desc: &InterfaceDescription, local: Option<(&Schema, &Interface)>) -> String {
    let (package, name) = match desc.name.rsplit_once('.') {
        Some((package, name)) => (Some(package), name),
        None => (None, desc.name.as_str()),
    };
    let mut out = package.map(|p| format!("package {p};\n\n")).unwrap_or_default();
    let _ = writeln!(out, "interface {name} {{   // id {:#018x}", desc.id);
    for m in &desc.methods {
        let known = local.and_then(|(s, i)| i.methods.iter().find(|x| x.id == m.id).map(|x| (s, x)));
        match known {
            Some((s, x)) => {
                let mut opts = String::new();
                if x.replay {
                    opts.push_str("@replay ");
                }
                if x.idempotent {
                    opts.push_str("@idempotent ");
                }
                let args: Vec<String> = x.args.iter().map(|a| format!("{}: {}", a.name, s.display(&a.ty))).collect();
                let ret = if matches!(x.ret, Ty::Unit) { String::new() } else { format!(" -> {}", s.display(&x.ret)) };
                let throws = x.err.map(|e| format!(" throws {}", s.qualified(e))).unwrap_or_default();
                let _ = writeln!(out, "    {opts}{}({}){ret}{throws};   // id {:#x}", m.name, args.join(", "), m.id);
            }
            None => {
                let _ = writeln!(
                    out,
                    "    {}(..);   // id {:#x}, signature {:#018x}; types not described by the peer (--schema)",
                    m.name, m.id, m.signature
                );
            }
        }
    }
    if let Some((s, i)) = local {
        for x in i.methods.iter().filter(|x| x.local.is_some()) {
            let _ = writeln!(
                out,
                "    @local {}() -> {};   // from the schema: runs on the caller's side",
                x.name,
                s.display(&x.ret)
            );
        }
    }
    out.push_str("}\n");
    out
}
