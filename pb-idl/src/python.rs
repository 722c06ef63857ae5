//! Python generator: a checked [`Schema`] to one Twisted Perspective Broker
//! module per package (`pb-idl gen --python`, [`Config::compile_python`](crate::Config::compile_python)).
//!
//! The module is what a Python program needs to join a pb system built from
//! the same schema, over Twisted's own wire (banana and jelly), matching what
//! the Rust side's jelly serializer (`pb::wire::twisted::jelly`) writes for
//! the generated Rust:
//!
//! - a record `R` is `R(pb.Copyable)`, whose copy tag is `package.R` (the
//!   generated struct's serde name) and whose state is a dict of its fields
//!   by their schema names, and `RemoteR(R, pb.RemoteCopy)`, registered for
//!   that tag with `pb.setUnjellyableForClass`;
//! - an enum or error `E` is a class of variant builders: jelly has no enums,
//!   so serde's convention is used, a variant without data is its name (a
//!   `str`) and any other a one-entry dict `{name: data}` (a tuple variant's
//!   data is a tuple, a struct variant's a dict by field name);
//! - a model `M` is `M(pb.RemoteCache)`, registered for the model's wire
//!   name, with `setCopyableState` and one `observe_<Event>` per event (which
//!   calls `apply_<Event>`, for the user to write, then the `changed` hook),
//!   and `MEvent`, the builders of its events;
//! - an interface `I` is `I(pb.Referenceable)`, with a `remote_<wire name>`
//!   stub per method for Python to implement, and `IClient`, which wraps a
//!   `pb.RemoteReference` and calls `callRemote("<wire name>", ...)`;
//! - a `stream<T>` does not cross to Twisted (pb's streams are pulled over
//!   pb's own wire): a method that passes one, as an argument or result or
//!   inside a record or enum, gets no `remote_` stub (a comment says why)
//!   and a client method that raises `NotImplementedError`, and a record or
//!   enum holding one says so in its docstring. The rest of the schema is
//!   generated as usual;
//! - a `sender<T>` does not cross to Twisted either (what its receiver
//!   sends is streamed back over pb's wire): it is treated as a stream.
//!
//! Python names that are keywords, or would hide what the module or Twisted
//! use, get a `_` suffix; the names on the wire never change. What cannot be
//! made Python (two generated classes of one name, two registrations of one
//! tag, a wire method name that is no Python identifier) is an error.

use std::collections::{BTreeMap, BTreeSet};

use crate::codegen::{GenOptions, Generated};
use crate::ir::*;

mod text;

use text::{Out, py_bytes, py_ident, py_str, value};

/// Module-level names the generated code uses: a declaration does not hide them.
const MODULE_NAMES: &[&str] =
    &["pb", "split_variant", "isinstance", "len", "dict", "str", "bytes", "type", "ValueError", "NotImplementedError"];

/// Attributes of `pb.Copyable` and `pb.RemoteCopy` a record's field must not hide.
const COPY_NAMES: &[&str] = &[
    "getStateToCopy",
    "getStateToCopyFor",
    "getTypeToCopy",
    "getTypeToCopyFor",
    "jellyFor",
    "setCopyableState",
    "unjellyFor",
];

/// Attributes of `pb.RemoteCache` (and the generated hook) a state field must not hide.
const CACHE_NAMES: &[&str] =
    &["broker", "luid", "changed", "setCopyableState", "jellyFor", "unjellyFor", "remoteMessageReceived"];

/// What the docstring of a record or enum holding a stream adds.
const STREAMS_NOTE: &[&str] =
    &["", "It holds a pb stream, which does not cross to Twisted: neither does it", "(see the module docs)."];

/// What the docstring of a record or enum holding a sender (and no stream) adds.
const SENDERS_NOTE: &[&str] =
    &["", "It holds a pb sender, which does not cross to Twisted: neither does it", "(see the module docs)."];

/// What the docstring of a record or enum holding both adds.
const BOTH_NOTE: &[&str] =
    &["", "It holds pb streams and senders, which do not cross to Twisted: neither", "does it (see the module docs)."];

/// The docstring note of a declaration holding streams or senders, if it holds any.
fn pb_only_note(def: &Def) -> &'static [&'static str] {
    match (def.streams, def.senders) {
        (true, false) => STREAMS_NOTE,
        (false, true) => SENDERS_NOTE,
        (true, true) => BOTH_NOTE,
        (false, false) => &[],
    }
}

/// Attributes of a generated client.
const CLIENT_NAMES: &[&str] = &["reference"];

/// Generate the Python module of every package of `schema` but those in
/// `opts.extern_paths` (generated elsewhere); `file_names` (indexed by file
/// id) name each package's files in its header.
///
/// # Errors
///
/// A schema that cannot be Python: two generated classes of one name in a
/// module, two declarations registered under one copy tag, a method whose
/// wire name is no Python identifier, or two packages with one module name.
pub fn generate(schema: &Schema, opts: &GenOptions, file_names: &[String]) -> Result<Vec<Generated>, String> {
    check_tags(schema)?;
    let mut out = Vec::new();
    let mut modules: BTreeMap<String, &str> = BTreeMap::new();
    for (idx, pkg) in schema.packages.iter().enumerate() {
        if opts.extern_paths.contains_key(&pkg.name) {
            continue;
        }
        let module = py_ident(&pkg.module(), &BTreeSet::new());
        if let Some(other) = modules.insert(module.clone(), &pkg.name) {
            return Err(format!(
                "packages `{other}` and `{}` would both be Python module `{module}`: rename one",
                pkg.name
            ));
        }
        let cx = Cx { schema, pkg: idx, classes: class_names(schema, pkg)? };
        let files: Vec<String> = pkg.files.iter().filter_map(|f| file_names.get(f.0).cloned()).collect();
        let code = cx.module(&files)?;
        out.push(Generated { package: pkg.name.clone(), file_name: format!("{module}.py"), code });
    }
    Ok(out)
}

/// Every copy tag registered (records' qualified names, models' wire names)
/// must name one declaration: jelly's registry holds one class per tag.
fn check_tags(schema: &Schema) -> Result<(), String> {
    let mut tags: BTreeMap<String, DefId> = BTreeMap::new();
    for (id, def) in schema.defs.iter().enumerate() {
        let tag = match &def.kind {
            DefKind::Record(_) => schema.qualified(id),
            DefKind::Model { wire_name, .. } => wire_name.clone(),
            _ => continue,
        };
        if let Some(other) = tags.insert(tag.clone(), id) {
            return Err(format!(
                "`{}` and `{}` would both be registered under the copy tag `{tag}`: give the model another `@name`",
                schema.qualified(other),
                schema.qualified(id)
            ));
        }
    }
    Ok(())
}

/// The Python classes of each declaration of `pkg`, by declaration: its own
/// class first, then the companion (`RemoteR`, `MEvent`, `IClient`).
fn class_names(schema: &Schema, pkg: &Package) -> Result<BTreeMap<DefId, (String, Option<String>)>, String> {
    let reserved: BTreeSet<String> = MODULE_NAMES.iter().map(|s| s.to_string()).collect();
    let mut names = BTreeMap::new();
    let mut owners: BTreeMap<String, String> = BTreeMap::new();
    for &id in &pkg.defs {
        let Some(def) = schema.defs.get(id) else { continue };
        let main = py_ident(&def.name, &reserved);
        let companion = match &def.kind {
            DefKind::Record(_) => Some(format!("Remote{}", def.name)),
            DefKind::Model { .. } => Some(format!("{}Event", def.name)),
            DefKind::Interface(_) => Some(format!("{}Client", def.name)),
            DefKind::Enum(_) | DefKind::Error(_) => None,
        };
        let kind = def.kind.keyword();
        for (class, what) in std::iter::once((&main, format!("{kind} `{}`", def.name)))
            .chain(companion.iter().map(|c| (c, format!("`{c}`, generated for {kind} `{}`,", def.name))))
        {
            if let Some(first) = owners.insert(class.clone(), what.clone()) {
                return Err(format!(
                    "package `{}`: {first} and {what} would both be Python class `{class}`: rename one",
                    pkg.name
                ));
            }
        }
        names.insert(id, (main, companion));
    }
    Ok(names)
}

/// Python names for `names` (fields, arguments, variants), in order: each
/// made a free identifier, avoiding `reserved` and the ones before it.
fn idents<'a>(names: impl IntoIterator<Item = &'a str>, reserved: &[&str]) -> Vec<String> {
    let mut taken: BTreeSet<String> = reserved.iter().map(|s| s.to_string()).collect();
    names
        .into_iter()
        .map(|n| {
            let id = py_ident(n, &taken);
            taken.insert(id.clone());
            id
        })
        .collect()
}

/// Names a method's parameters must not hide: what generated bodies use.
const PARAM_NAMES: &[&str] = &["self", "NotImplementedError"];

/// The Python parameter names of a variant's fields (positional ones are
/// `arg0`, `arg1`...), avoiding `reserved`.
fn variant_params(v: &Variant, reserved: &[&str]) -> Vec<String> {
    match &v.payload {
        Payload::Unit => Vec::new(),
        Payload::Tuple(f) => (0..f.len()).map(|i| format!("arg{i}")).collect(),
        Payload::Struct(f) => idents(f.iter().map(|f| f.name.as_str()), reserved),
    }
}

/// The expression building a variant's jelly value from its parameters.
fn variant_value(v: &Variant, params: &[String]) -> String {
    let name = py_str(&v.name);
    match &v.payload {
        Payload::Unit => name,
        Payload::Tuple(_) if params.len() == 1 => format!("{{{name}: {}}}", params[0]),
        Payload::Tuple(_) => format!("{{{name}: ({})}}", params.join(", ")),
        Payload::Struct(f) => {
            let entries: Vec<String> = f.iter().zip(params).map(|(f, p)| format!("{}: {p}", py_str(&f.name))).collect();
            format!("{{{name}: {{{}}}}}", entries.join(", "))
        }
    }
}

struct Cx<'a> {
    schema: &'a Schema,
    pkg: usize,
    classes: BTreeMap<DefId, (String, Option<String>)>,
}

impl Cx<'_> {
    /// A type as the schema spells it from this package.
    fn ty(&self, ty: &Ty) -> String {
        match ty {
            Ty::Prim(p) => p.name().to_string(),
            Ty::Unit => "()".into(),
            Ty::List(t) => format!("list<{}>", self.ty(t)),
            Ty::Option(t) => format!("option<{}>", self.ty(t)),
            Ty::Box(t) => format!("box<{}>", self.ty(t)),
            Ty::Map(k, v) => format!("map<{}, {}>", self.ty(k), self.ty(v)),
            Ty::Ref(d) => format!("ref<{}>", self.def_name(*d)),
            Ty::Stream(t) => format!("stream<{}>", self.ty(t)),
            Ty::Sender(t) => format!("sender<{}>", self.ty(t)),
            Ty::Def(d) => self.def_name(*d),
            Ty::Invalid => "?".into(),
        }
    }

    fn def_name(&self, id: DefId) -> String {
        match self.schema.defs.get(id) {
            Some(d) if d.package == self.pkg => d.name.clone(),
            _ => self.schema.qualified(id),
        }
    }

    /// `name: doc` lines documenting fields (the doc's later lines indented).
    fn field_docs(&self, fields: &[Field], names: &[String]) -> Vec<String> {
        let mut lines = Vec::new();
        for (f, name) in fields.iter().zip(names) {
            let wire = if *name == f.name { String::new() } else { format!(", `{}` on the wire", f.name) };
            let mut first = format!("    {name} ({}{wire})", self.ty(&f.ty));
            if let Some(doc) = f.docs.first() {
                first.push_str(": ");
                first.push_str(doc.trim());
            }
            lines.push(first);
            lines.extend(f.docs.iter().skip(1).map(|d| format!("        {}", d.trim())));
        }
        lines
    }

    /// How a variant is written in the schema: `V`, `V(T, U)`, `V { a: T }`.
    fn variant_sig(&self, v: &Variant) -> String {
        match &v.payload {
            Payload::Unit => v.name.clone(),
            Payload::Tuple(f) => {
                format!("{}({})", v.name, f.iter().map(|f| self.ty(&f.ty)).collect::<Vec<_>>().join(", "))
            }
            Payload::Struct(f) => format!(
                "{} {{ {} }}",
                v.name,
                f.iter().map(|f| format!("{}: {}", f.name, self.ty(&f.ty))).collect::<Vec<_>>().join(", ")
            ),
        }
    }

    fn variant_docs(&self, variants: &[Variant]) -> Vec<String> {
        let mut lines = Vec::new();
        for v in variants {
            let mut line = format!("    {}", self.variant_sig(v));
            if let Some(doc) = v.docs.first() {
                line.push_str(": ");
                line.push_str(doc.trim());
            }
            lines.push(line);
        }
        lines
    }

    /// The whole module.
    fn module(&self, files: &[String]) -> Result<String, String> {
        let pkg = &self.schema.packages[self.pkg];
        let mut out = Out::default();
        out.comment(&format!(
            "@generated by pb-idl --python from {}. Do not edit: change the schema and regenerate.",
            files.join(", ")
        ));
        out.comment(&format!("Package `{}`, for Twisted Perspective Broker (twisted.spread.pb).", pkg.name));
        let mut doc: Vec<String> = pkg.docs.iter().map(|d| d.trim().to_string()).collect();
        if !doc.is_empty() {
            doc.push(String::new());
        }
        doc.extend(text::MODULE_DOC.lines().map(|l| l.replace("{package}", &pkg.name)));
        out.doc(0, &doc);
        out.blank();
        out.line(0, "from twisted.spread import pb");
        out.blank();
        out.blank();
        out.lines(0, text::SPLIT_VARIANT);
        for &id in &pkg.defs {
            let Some(def) = self.schema.defs.get(id) else { continue };
            let (class, companion) = self.classes.get(&id).cloned().unwrap_or_default();
            let companion = companion.unwrap_or_default();
            out.blank();
            out.blank();
            match &def.kind {
                DefKind::Record(fields) => self.record(&mut out, id, def, fields, &class, &companion),
                DefKind::Enum(variants) => self.enumeration(&mut out, id, def, variants, &class),
                DefKind::Error(variants) => self.enumeration(&mut out, id, def, variants, &class),
                DefKind::Model { wire_name, state, events } => {
                    let model = Model { wire_name, state, events };
                    self.model(&mut out, def, &model, &class, &companion)
                }
                DefKind::Interface(i) => self.interface(&mut out, def, i, &class, &companion)?,
            }
        }
        Ok(out.finish())
    }

    fn record(&self, out: &mut Out, id: DefId, def: &Def, fields: &[Field], class: &str, remote: &str) {
        let tag = self.schema.qualified(id);
        let names = idents(fields.iter().map(|f| f.name.as_str()), COPY_NAMES);
        let mut doc: Vec<String> = def.docs.iter().map(|d| d.trim().to_string()).collect();
        if !doc.is_empty() {
            doc.push(String::new());
        }
        doc.push(format!("Record ``{tag}``, passed by copy: jelly sends it under that copy"));
        doc.push(format!("tag, with a dict of its fields. A copy received is a {remote}."));
        doc.extend(pb_only_note(def).iter().map(|l| l.to_string()));
        if !fields.is_empty() {
            doc.push(String::new());
            doc.push("Fields:".into());
            doc.extend(self.field_docs(fields, &names));
        }
        out.line(0, &format!("class {class}(pb.Copyable):"));
        out.doc(1, &doc);
        out.blank();
        let params: Vec<String> = std::iter::once("self".to_string()).chain(names.iter().cloned()).collect();
        out.wrapped(1, "def __init__(", &params, "):");
        if names.is_empty() {
            out.line(2, "pass");
        }
        for n in &names {
            out.line(2, &format!("self.{n} = {n}"));
        }
        out.blank();
        out.line(1, "def getTypeToCopy(self):");
        out.line(2, &format!("return {}", py_bytes(&tag)));
        out.blank();
        out.line(1, "def getStateToCopy(self):");
        let state: Vec<String> =
            fields.iter().zip(&names).map(|(f, n)| format!("{}: self.{n}", py_str(&f.name))).collect();
        out.wrapped(2, "return {", &state, "}");
        out.blank();
        out.line(1, "def __eq__(self, other):");
        out.line(2, &format!("return isinstance(other, {class}) and self.getStateToCopy() == other.getStateToCopy()"));
        out.blank();
        out.line(1, "def __repr__(self):");
        out.line(2, "state = self.getStateToCopy()");
        out.line(2, "return \"%s(%s)\" % (type(self).__name__, \", \".join(\"%s=%r\" % kv for kv in state.items()))");
        out.blank();
        out.blank();
        out.line(0, &format!("class {remote}({class}, pb.RemoteCopy):"));
        out.doc(1, &[format!("A copy of ``{tag}`` received from a peer (it can be sent back as it is).")]);
        out.blank();
        out.line(1, "def setCopyableState(self, state):");
        if names.is_empty() {
            out.line(2, "pass");
        }
        for (f, n) in fields.iter().zip(&names) {
            out.line(2, &format!("self.{n} = state[{}]", py_str(&f.name)));
        }
        out.blank();
        out.blank();
        out.line(0, &format!("pb.setUnjellyableForClass({}, {remote})", py_bytes(&tag)));
    }

    /// An enum or error: variant builders.
    fn enumeration(&self, out: &mut Out, id: DefId, def: &Def, variants: &[Variant], class: &str) {
        let qualified = self.schema.qualified(id);
        let error = matches!(def.kind, DefKind::Error(_));
        let what = if error { "Error" } else { "Enum" };
        let mut doc: Vec<String> = def.docs.iter().map(|d| d.trim().to_string()).collect();
        if !doc.is_empty() {
            doc.push(String::new());
        }
        doc.push(format!("{what} ``{qualified}``, passed by value: see \"Enums\" in the module docs."));
        if error {
            doc.push("Its transport-failure variant ``Pb`` is pb's own; a Python exception".into());
            doc.push("reaches pb as pb::Error::Remote, not as this type.".into());
        }
        doc.extend(pb_only_note(def).iter().map(|l| l.to_string()));
        self.variant_class(out, class, doc, variants);
    }

    /// A class of variant builders: a unit variant is a `str` attribute,
    /// any other a static method returning the one-entry dict.
    fn variant_class(&self, out: &mut Out, class: &str, mut doc: Vec<String>, variants: &[Variant]) {
        if !variants.is_empty() {
            doc.push(String::new());
            doc.push("Variants:".into());
            doc.extend(self.variant_docs(variants));
        }
        out.line(0, &format!("class {class}:"));
        out.doc(1, &doc);
        let names = idents(variants.iter().map(|v| v.name.as_str()), &[]);
        let mut unit_before = false;
        for (v, name) in variants.iter().zip(&names) {
            let unit = matches!(v.payload, Payload::Unit);
            if !(unit && unit_before) {
                out.blank();
            }
            unit_before = unit;
            if unit {
                out.line(1, &format!("{name} = {}", py_str(&v.name)));
                continue;
            }
            let params = variant_params(v, &[]);
            out.line(1, "@staticmethod");
            out.line(1, &format!("def {name}({}):", params.join(", ")));
            let mut doc = v.docs.iter().map(|d| d.trim().to_string()).collect::<Vec<_>>();
            if doc.is_empty() {
                doc.push(format!("``{}``.", self.variant_sig(v)));
            }
            out.doc(2, &doc);
            out.line(2, &format!("return {}", variant_value(v, &params)));
        }
    }

    fn model(&self, out: &mut Out, def: &Def, m: &Model<'_>, class: &str, event_class: &str) {
        let wire = m.wire_name;
        let mut reserved: Vec<String> = CACHE_NAMES.iter().map(|s| s.to_string()).collect();
        for e in m.events {
            reserved.push(format!("observe_{}", e.name));
            reserved.push(format!("apply_{}", e.name));
        }
        let reserved: Vec<&str> = reserved.iter().map(String::as_str).collect();
        let names = idents(m.state.iter().map(|f| f.name.as_str()), &reserved);
        let events_doc = vec![format!("An event of model ``{wire}``, passed by value to {class}.changed.")];
        self.variant_class(out, event_class, events_doc, m.events);
        out.blank();
        out.blank();
        let mut doc: Vec<String> = def.docs.iter().map(|d| d.trim().to_string()).collect();
        if !doc.is_empty() {
            doc.push(String::new());
        }
        for line in text::MODEL_DOC.lines() {
            doc.push(line.replace("{wire}", wire).replace("{class}", class).replace("{tag}", &py_bytes(wire)));
        }
        if !m.state.is_empty() {
            doc.push(String::new());
            doc.push("State:".into());
            doc.extend(self.field_docs(m.state, &names));
        }
        out.line(0, &format!("class {class}(pb.RemoteCache):"));
        out.doc(1, &doc);
        out.blank();
        out.line(1, "def setCopyableState(self, state):");
        if names.is_empty() {
            out.line(2, "pass");
        }
        for (f, n) in m.state.iter().zip(&names) {
            out.line(2, &format!("self.{n} = state[{}]", py_str(&f.name)));
        }
        let event_names = idents(m.events.iter().map(|v| v.name.as_str()), &[]);
        for (e, attr) in m.events.iter().zip(&event_names) {
            let params = variant_params(e, &[PARAM_NAMES, &[event_class]].concat());
            let args: String = params.iter().map(|p| format!(", {p}")).collect();
            let call = params.join(", ");
            out.blank();
            out.line(1, &format!("def observe_{}(self{args}):", e.name));
            let mut doc: Vec<String> = e.docs.iter().map(|d| d.trim().to_string()).collect();
            if !doc.is_empty() {
                doc.push(String::new());
            }
            doc.push(format!("``{}``: apply it, then call changed.", self.variant_sig(e)));
            out.doc(2, &doc);
            out.line(2, &format!("self.apply_{}({call})", e.name));
            let event = if params.is_empty() {
                format!("{event_class}.{attr}")
            } else {
                format!("{event_class}.{attr}({call})")
            };
            out.line(2, &format!("self.changed({event})"));
            out.blank();
            out.line(1, &format!("def apply_{}(self{args}):", e.name));
            out.doc(2, &[format!("How ``{}`` changes the state: override it.", e.name)]);
            out.line(2, &format!("raise NotImplementedError({})", py_str(&format!("{wire}: apply_{}", e.name))));
        }
        out.blank();
        out.line(1, "def changed(self, event):");
        out.doc(2, &[format!("Called after each event is applied, with the event (see {event_class}): override it.")]);
        out.blank();
        out.blank();
        out.line(0, &format!("pb.setUnjellyableForClass({}, {class})", py_bytes(wire)));
    }

    fn interface(&self, out: &mut Out, def: &Def, i: &Interface, class: &str, client: &str) -> Result<(), String> {
        let wire = &i.wire_name;
        let mut doc: Vec<String> = def.docs.iter().map(|d| d.trim().to_string()).collect();
        if !doc.is_empty() {
            doc.push(String::new());
        }
        doc.extend(text::INTERFACE_DOC.lines().map(|l| l.replace("{wire}", wire)));
        out.line(0, &format!("class {class}(pb.Referenceable):"));
        out.doc(1, &doc);
        for m in i.methods.iter().filter(|m| m.local.is_none()) {
            if let Some(what) = self.pb_only(m) {
                out.blank();
                out.comment_at(1, &format!("No remote_{}: {}", m.wire_name, self.signature(m)));
                out.comment_at(1, &format!("passes pb {what}, which do not cross to Twisted (see the module docs)."));
                continue;
            }
            if !text::is_identifier(&m.wire_name) {
                return Err(format!(
                    "method `{}` of `{wire}` has the wire name `{}`, which cannot be a Python method \
                     (Twisted calls `remote_<wire name>`): give it an `@name` that is an identifier",
                    m.name, m.wire_name
                ));
            }
            let params = idents(m.args.iter().map(|a| a.name.as_str()), PARAM_NAMES);
            let args: String = params.iter().map(|p| format!(", {p}")).collect();
            out.blank();
            out.line(1, &format!("def remote_{}(self{args}):", m.wire_name));
            out.doc(2, &self.method_doc(m, ""));
            out.line(2, &format!("raise NotImplementedError({})", py_str(&format!("{wire}.{}", m.wire_name))));
        }
        out.blank();
        out.blank();
        let names = idents(i.methods.iter().map(|m| m.name.as_str()), CLIENT_NAMES);
        out.line(0, &format!("class {client}:"));
        let doc: Vec<String> =
            text::CLIENT_DOC.lines().map(|l| l.replace("{wire}", wire).replace("{client}", client)).collect();
        out.doc(1, &doc);
        out.blank();
        out.line(1, "def __init__(self, reference):");
        out.line(2, "self.reference = reference");
        for (m, name) in i.methods.iter().zip(&names) {
            out.blank();
            if let Some(v) = &m.local {
                out.line(1, &format!("def {name}(self):"));
                out.doc(2, &self.method_doc(m, ": local, never crosses the wire"));
                out.line(2, &format!("return {}", value(v)));
                continue;
            }
            let params = idents(m.args.iter().map(|a| a.name.as_str()), PARAM_NAMES);
            let args: String = params.iter().map(|p| format!(", {p}")).collect();
            out.line(1, &format!("def {name}(self{args}):"));
            if let Some(what) = self.pb_only(m) {
                out.doc(2, &self.method_doc(m, &format!(": passes pb {what}, which do not cross to Twisted")));
                let why = format!("{wire}.{}: pb {what} do not cross to Twisted", m.wire_name);
                out.line(2, &format!("raise NotImplementedError({})", py_str(&why)));
                continue;
            }
            out.doc(2, &self.method_doc(m, ""));
            out.line(2, &format!("return self.reference.callRemote({}{args})", py_str(&m.wire_name)));
        }
        Ok(())
    }

    /// What pb-only values a method passes (`streams`, `senders`, or
    /// `streams and senders`), in an argument or its result, directly or
    /// inside a declaration; `None` if it passes neither.
    fn pb_only(&self, m: &Method) -> Option<&'static str> {
        let mut types = m.args.iter().map(|a| &a.ty).chain([&m.ret]);
        let streams = types.clone().any(|t| self.schema.holds_stream(t));
        let senders = types.any(|t| self.schema.holds_sender(t));
        match (streams, senders) {
            (true, false) => Some("streams"),
            (false, true) => Some("senders"),
            (true, true) => Some("streams and senders"),
            (false, false) => None,
        }
    }

    /// A method's docs and its schema signature.
    fn method_doc(&self, m: &Method, note: &str) -> Vec<String> {
        let mut doc: Vec<String> = m.docs.iter().map(|d| d.trim().to_string()).collect();
        if !doc.is_empty() {
            doc.push(String::new());
        }
        let mut sig = self.signature(m);
        sig.push_str(note);
        doc.push(sig);
        doc
    }

    /// ``name(a: T) -> R throws E``, and its wire name if another.
    fn signature(&self, m: &Method) -> String {
        let args: Vec<String> = m.args.iter().map(|a| format!("{}: {}", a.name, self.ty(&a.ty))).collect();
        let mut sig = format!("``{}({})", m.name, args.join(", "));
        if m.ret != Ty::Unit {
            sig.push_str(&format!(" -> {}", self.ty(&m.ret)));
        }
        if let Some(e) = m.err.filter(|_| m.local.is_none()) {
            sig.push_str(&format!(" throws {}", self.def_name(e)));
        }
        sig.push_str("``");
        if m.wire_name != m.name {
            sig.push_str(&format!(", ``{}`` on the wire", m.wire_name));
        }
        sig
    }
}

/// A model's parts.
struct Model<'a> {
    wire_name: &'a str,
    state: &'a [Field],
    events: &'a [Variant],
}
