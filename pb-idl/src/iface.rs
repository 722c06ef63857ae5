//! Resolving interfaces: methods, markers, error types, wire identities.

use std::collections::HashMap;

use crate::ast::{self, LitKind};
use crate::diag::{Diagnostic, Kind, did_you_mean};
use crate::ir::*;
use crate::names::NameKind;
use crate::resolve::Resolver;
use crate::span::{FileId, Span};

const INTERFACE_ATTRS: &[&str] = &["name", "id"];
const METHOD_ATTRS: &[&str] = &["replay", "idempotent", "local", "name", "id"];
const MODEL_ATTRS: &[&str] = &["name"];

/// The attributes found on one item, by name.
struct Attrs<'a> {
    found: HashMap<&'static str, &'a ast::Attr>,
}

impl<'a> Attrs<'a> {
    fn has(&self, name: &str) -> Option<Span> {
        self.found.get(name).map(|a| a.span)
    }
}

impl Resolver<'_> {
    /// Sort attributes into the allowed ones, reporting unknown, repeated,
    /// and wrongly-argumented ones.
    fn attrs<'a>(&mut self, attrs: &'a [ast::Attr], allowed: &[&'static str], on: &str) -> Attrs<'a> {
        let mut found: HashMap<&'static str, &'a ast::Attr> = HashMap::new();
        for a in attrs {
            let Some(&name) = allowed.iter().find(|n| **n == a.name.name) else {
                let hint = match did_you_mean(&a.name.name, allowed.iter().copied()) {
                    Some(s) => format!("did you mean `@{s}`?"),
                    None => format!(
                        "{on} accept {}",
                        allowed.iter().map(|n| format!("`@{n}`")).collect::<Vec<_>>().join(", ")
                    ),
                };
                self.diags.push(
                    Diagnostic::error(Kind::Attribute, a.name.span, format!("unknown attribute `@{}`", a.name.name))
                        .label("unknown")
                        .hint(hint),
                );
                continue;
            };
            if let Some(first) = found.get(name) {
                self.diags.push(
                    Diagnostic::error(Kind::Attribute, a.span, format!("`@{name}` is given twice"))
                        .label("again here")
                        .with(first.span, "first here")
                        .hint("remove one of them"),
                );
                continue;
            }
            let takes_arg = matches!(name, "name" | "id");
            match (&a.arg, takes_arg) {
                (None, true) => {
                    let example = if name == "id" { "@id(42)" } else { "@name(\"pkg.Name\")" };
                    self.diags.push(
                        Diagnostic::error(Kind::Attribute, a.span, format!("`@{name}` needs a value"))
                            .label("no value")
                            .hint(format!("write `{example}`")),
                    );
                    continue;
                }
                (Some(arg), false) => {
                    self.diags.push(
                        Diagnostic::error(Kind::Attribute, arg.span, format!("`@{name}` takes no value"))
                            .label("unexpected value")
                            .hint(format!("write `@{name}`")),
                    );
                }
                _ => {}
            }
            found.insert(name, a);
        }
        Attrs { found }
    }

    /// The string of `@name("...")`.
    fn name_attr(&mut self, attrs: &Attrs<'_>) -> Option<String> {
        let lit = attrs.found.get("name")?.arg.as_ref()?;
        match &lit.kind {
            LitKind::Str(s) if !s.is_empty() => Some(s.clone()),
            _ => {
                self.diags.push(
                    Diagnostic::error(Kind::Literal, lit.span, "`@name` needs a non-empty string")
                        .label("not a name")
                        .hint("write `@name(\"pkg.Name\")`"),
                );
                None
            }
        }
    }

    /// The number of `@id(N)`, which must fit in `max`.
    fn id_attr(&mut self, attrs: &Attrs<'_>, max: u64) -> Option<u64> {
        let lit = attrs.found.get("id")?.arg.as_ref()?;
        let parsed = match &lit.kind {
            LitKind::Number(n) => parse_int(n).and_then(|v| u64::try_from(v).ok()).filter(|v| *v <= max),
            _ => None,
        };
        if parsed.is_none() {
            self.diags.push(
                Diagnostic::error(Kind::Literal, lit.span, format!("`@id` needs an integer from 0 to {max}"))
                    .label("not a valid id")
                    .hint("write `@id(42)` or `@id(0x2a)`"),
            );
        }
        parsed
    }

    /// The wire name of a model: `@name(...)`, else `package.Name`.
    pub(crate) fn model_name(&mut self, file: FileId, item: &ast::Item) -> String {
        let attrs = self.attrs(&item.attrs, MODEL_ATTRS, "models");
        let package = self.schema.packages.get(self.pkg_of(file)).map_or_else(String::new, |p| p.name.clone());
        self.name_attr(&attrs).unwrap_or_else(|| format!("{package}.{}", item.name.name))
    }

    pub(crate) fn interface(&mut self, file: FileId, item: &ast::Item, i: &ast::Interface) -> Interface {
        let attrs = self.attrs(&item.attrs, INTERFACE_ATTRS, "interfaces");
        let package = self.schema.packages.get(self.pkg_of(file)).map_or_else(String::new, |p| p.name.clone());
        let explicit_name = self.name_attr(&attrs);
        let wire_name = explicit_name.clone().unwrap_or_else(|| format!("{package}.{}", item.name.name));
        let explicit_id = self.id_attr(&attrs, u64::MAX);
        let default_err = i.throws.as_ref().and_then(|t| self.error_type(file, t));
        let mut methods: Vec<Method> = Vec::new();
        let mut by_name: HashMap<&str, Span> = HashMap::new();
        let mut by_id: HashMap<u32, (String, Span)> = HashMap::new();
        for m in &i.methods {
            if let Some(first) = by_name.insert(&m.name.name, m.name.span) {
                self.diags.push(
                    Diagnostic::error(Kind::Duplicate, m.name.span, format!("duplicate method `{}`", m.name.name))
                        .label("declared again here")
                        .with(first, "first declared here")
                        .hint("methods cannot be overloaded: give this one another name"),
                );
            }
            let method = self.method(file, m, default_err);
            if method.local.is_none() && pb_ids::is_reserved_method_id(method.id) {
                self.diags.push(
                    Diagnostic::error(
                        Kind::IdCollision,
                        m.name.span,
                        format!("method id {:#x} of `{}` is reserved by pb", method.id, method.wire_name),
                    )
                    .label("reserved wire id")
                    .hint("pb answers interface descriptions on this id; set a different id with `@id(N)`"),
                );
            }
            if method.local.is_none() {
                if let Some((other, span)) = by_id.get(&method.id) {
                    if *other != method.wire_name {
                        self.diags.push(
                            Diagnostic::error(
                                Kind::IdCollision,
                                m.name.span,
                                format!("method id {:#x} of `{}` collides with `{other}`", method.id, method.wire_name),
                            )
                            .label("same wire id")
                            .with(*span, "the other method")
                            .hint("set a different id with `@id(N)`"),
                        );
                    }
                } else {
                    by_id.insert(method.id, (method.wire_name.clone(), m.name.span));
                }
            }
            methods.push(method);
        }
        Interface {
            id: explicit_id.unwrap_or_else(|| pb_ids::interface_id(&wire_name)),
            explicit_id: explicit_id.is_some(),
            explicit_name: explicit_name.is_some(),
            wire_name,
            methods,
        }
    }

    /// `throws T`: `T` must be an `error` declaration.
    fn error_type(&mut self, file: FileId, t: &ast::Type) -> Option<DefId> {
        let is_builtin = t.path.len() == 1 && crate::names::BUILTIN_TYPES.contains(&t.path[0].name.as_str());
        let def = if is_builtin { None } else { self.lookup(file, t) };
        let kind = def.map(|d| self.kind(d));
        if kind == Some("error") {
            return def;
        }
        if is_builtin || def.is_some() {
            let what = kind.map_or("a built-in type".to_string(), |k| format!("{} {k}", crate::resolve::article(k)));
            self.diags.push(
                Diagnostic::error(Kind::NotAnError, t.span, format!("`{}` is {what}, not an error", t.name()))
                    .label("not an `error` declaration")
                    .hint("declare `error Name { Variant = \"message\", ... }`; it gets a `Pb` variant so transport failures fit in it"),
            );
        }
        None
    }

    fn method(&mut self, file: FileId, m: &ast::Method, default_err: Option<DefId>) -> Method {
        self.name(&m.name, NameKind::Method);
        let attrs = self.attrs(&m.attrs, METHOD_ATTRS, "methods");
        let explicit_name = self.name_attr(&attrs);
        let wire_name = explicit_name.clone().unwrap_or_else(|| m.name.name.clone());
        let explicit_id = self.id_attr(&attrs, u64::from(u32::MAX)).map(|v| v as u32);
        let args = self.fields(file, &m.args, NameKind::Field);
        let ret = m.ret.as_ref().map_or(Ty::Unit, |t| self.ty(file, t));
        let err = match &m.throws {
            Some(t) => self.error_type(file, t),
            None => default_err,
        };
        let replay = attrs.has("replay");
        let idempotent = attrs.has("idempotent");
        let local = attrs.has("local");
        let mut value = None;
        if let Some(local) = local {
            for (marker, span) in [("replay", replay), ("idempotent", idempotent)] {
                if let Some(span) = span {
                    self.diags.push(
                        Diagnostic::error(
                            Kind::Local,
                            span,
                            format!("a `@local` method never crosses the wire: `@{marker}` does not apply"),
                        )
                        .label("not for local methods")
                        .with(local, "marked local here")
                        .hint(format!("remove `@{marker}` or `@local`")),
                    );
                }
            }
            value = self.local_value(m, &ret, local);
        } else if let Some(lit) = &m.value {
            self.diags.push(
                Diagnostic::error(Kind::Local, lit.span, "only `@local` methods have a value")
                    .label("a remote method's result comes from the object")
                    .hint("remove `= ...`, or mark the method `@local`"),
            );
        }
        if let Some(span) = replay.filter(|_| local.is_none()) {
            let model = matches!(ret, Ty::Def(d) if self.kind(d) == "model");
            if !model && !matches!(ret, Ty::Ref(_) | Ty::Invalid) {
                self.diags.push(
                    Diagnostic::error(Kind::Replay, span, "a `@replay` method must return a reference or a model")
                        .label("replay rebuilds the reference or cache it returned after an outage")
                        .with(m.ret.as_ref().map_or(m.name.span, |t| t.span), "returns neither `ref<...>` nor a model")
                        .hint("return `ref<Iface>` or a model, or remove `@replay`"),
                );
            }
            // A stream argument is reported once, by the check of streams sent
            // again. A sender is exported anew on the new connection: it passes
            // (and the references among its items are the receiver's to send).
            for (a, arg) in args.iter().zip(&m.args) {
                if a.ty.has_ref() && !a.ty.has_stream() {
                    self.diags.push(
                        Diagnostic::error(Kind::Replay, arg.ty.span, "a `@replay` method cannot take references")
                            .label("a reference argument")
                            .with(span, "replayed on a new connection, where this reference does not exist")
                            .hint("pass data by copy, or remove `@replay`"),
                    );
                }
            }
        }
        Method {
            name: m.name.name.clone(),
            docs: m.docs.clone(),
            id: explicit_id.unwrap_or_else(|| pb_ids::method_id(&wire_name)),
            explicit_id: explicit_id.is_some(),
            explicit_name: explicit_name.is_some(),
            wire_name,
            replay: replay.is_some(),
            idempotent: idempotent.is_some(),
            local: value,
            args,
            ret,
            err,
            span: m.span,
        }
    }

    /// The constant a `@local` method returns.
    fn local_value(&mut self, m: &ast::Method, ret: &Ty, local: Span) -> Option<Value> {
        let mut ok = true;
        if let Some(a) = m.args.first() {
            self.diags.push(
                Diagnostic::error(Kind::Local, a.name.span, "a `@local` method takes no arguments in a schema")
                    .label("argument of a local method")
                    .hint("the schema cannot carry code: a local method returns a constant; implement richer local helpers in Rust"),
            );
            ok = false;
        }
        if let Some(t) = &m.throws {
            self.diags.push(
                Diagnostic::error(Kind::Local, t.span, "a `@local` method cannot fail")
                    .label("runs on the caller's side and returns a constant")
                    .hint("remove `throws ...`"),
            );
            ok = false;
        }
        let Some(lit) = &m.value else {
            self.diags.push(
                Diagnostic::error(Kind::Local, m.name.span, "a `@local` method needs a value")
                    .label("no value")
                    .with(local, "marked local here")
                    .hint("local methods run on the caller's side: give the constant they return, as in `describe() -> string = \"users\";`"),
            );
            return None;
        };
        let value = match (&lit.kind, ret) {
            (LitKind::Str(s), Ty::Prim(Prim::String)) => Some(Value::Str(s.clone())),
            (LitKind::Bool(b), Ty::Prim(Prim::Bool)) => Some(Value::Bool(*b)),
            (LitKind::Number(n), Ty::Prim(p @ (Prim::F32 | Prim::F64))) => n
                .replace('_', "")
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite() && (*p == Prim::F64 || f.abs() <= f64::from(f32::MAX)))
                .map(Value::Float),
            (LitKind::Number(n), Ty::Prim(p)) if p.int_range().is_some() => {
                let (lo, hi) = p.int_range().unwrap_or((0, 0));
                parse_int(n).filter(|v| (lo..=hi).contains(v)).map(Value::Int)
            }
            (_, Ty::Invalid) => return None,
            _ => None,
        };
        if value.is_none() {
            let want = match ret {
                Ty::Prim(p) => format!("a `{}` constant", p.name()),
                Ty::Unit => "a result type".to_string(),
                _ => "a constant".to_string(),
            };
            let hint = match ret {
                Ty::Prim(_) => "give a literal of the result type, within its range".to_string(),
                Ty::Unit => "write `name() -> string = \"...\";`".to_string(),
                _ => "local methods in a schema return `bool`, a number or `string`".to_string(),
            };
            self.diags.push(
                Diagnostic::error(
                    Kind::Literal,
                    lit.span,
                    format!("this value does not fit the result: expected {want}"),
                )
                .label("does not fit")
                .hint(hint),
            );
        }
        if ok { value } else { None }
    }
}

/// An integer literal: decimal, `0x` hex or `0b` binary, `_` separators, optional sign.
pub(crate) fn parse_int(text: &str) -> Option<i128> {
    let t = text.replace('_', "");
    let (neg, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest.to_string()),
        None => (false, t.strip_prefix('+').unwrap_or(&t).to_string()),
    };
    let v = if let Some(h) = t.strip_prefix("0x") {
        i128::from_str_radix(h, 16).ok()?
    } else if let Some(b) = t.strip_prefix("0b") {
        i128::from_str_radix(b, 2).ok()?
    } else {
        t.parse::<i128>().ok()?
    };
    Some(if neg { -v } else { v })
}
