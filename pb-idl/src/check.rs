//! Whole-schema checks, after every name is resolved: recursive types,
//! interface identities, package modules, which traits the generated types
//! can derive, and where streams and senders cannot go.

use std::collections::HashMap;

use crate::diag::{Diagnostic, Kind};
use crate::ir::*;
use crate::span::Span;

/// Run the whole-schema checks.
pub(crate) fn check(schema: &mut Schema, diags: &mut Vec<Diagnostic>) {
    recursion(schema, diags);
    interface_ids(schema, diags);
    package_modules(schema, diags);
    derives(schema);
    model_data(schema, diags);
    resent_streams(schema, diags);
    crate::depth::check(schema, diags);
}

/// The data fields of a declaration (state fields for a model, variant fields for enums).
fn data_fields(def: &Def) -> Vec<&Field> {
    match &def.kind {
        DefKind::Record(f) => f.iter().collect(),
        DefKind::Enum(v) | DefKind::Error(v) => v.iter().flat_map(|v| v.payload.fields()).collect(),
        DefKind::Model { state, .. } => state.iter().collect(),
        DefKind::Interface(_) => Vec::new(),
    }
}

/// Declarations a type contains inline (no `list`, `map`, `box`, `ref`, `stream` or `sender` in between).
fn inline_defs(ty: &Ty, out: &mut Vec<DefId>) {
    match ty {
        Ty::Def(d) => out.push(*d),
        Ty::Option(t) => inline_defs(t, out),
        _ => {}
    }
}

/// A record that contains itself without indirection has infinite size.
fn recursion(schema: &Schema, diags: &mut Vec<Diagnostic>) {
    // Edges: def -> (field span, contained def).
    let edges: Vec<Vec<(Span, String, DefId)>> = schema
        .defs
        .iter()
        .map(|d| {
            let mut e = Vec::new();
            for f in data_fields(d) {
                let mut out = Vec::new();
                inline_defs(&f.ty, &mut out);
                e.extend(out.into_iter().map(|t| (f.ty_span, f.name.clone(), t)));
            }
            e
        })
        .collect();
    // Iterative DFS with colors; each back edge closes a cycle.
    let n = schema.defs.len();
    let mut color = vec![0u8; n]; // 0 new, 1 on stack, 2 done
    let mut reported = vec![false; n];
    for root in 0..n {
        if color[root] != 0 {
            continue;
        }
        let mut stack: Vec<(DefId, usize)> = vec![(root, 0)];
        color[root] = 1;
        while let Some((node, next)) = stack.last_mut() {
            let node = *node;
            if let Some((span, field, target)) = edges[node].get(*next).cloned() {
                *next += 1;
                match color.get(target) {
                    Some(0) => {
                        color[target] = 1;
                        stack.push((target, 0));
                    }
                    Some(1) if !reported[target] => {
                        reported[target] = true;
                        let cycle: Vec<String> = stack
                            .iter()
                            .skip_while(|(d, _)| *d != target)
                            .map(|(d, _)| schema.defs[*d].name.clone())
                            .chain(std::iter::once(schema.defs[target].name.clone()))
                            .collect();
                        let name = &schema.defs[target].name;
                        let message = if cycle.len() <= 2 {
                            format!("`{name}` contains itself without indirection")
                        } else {
                            format!("`{name}` contains itself without indirection: {}", cycle.join(" -> "))
                        };
                        diags.push(
                            Diagnostic::error(Kind::RecursiveType, span, message)
                                .label(format!("field `{field}` makes the type infinitely large"))
                                .with(schema.defs[target].span, "declared here")
                                .hint("wrap the field in `box<...>` (or hold it in a `list<...>` or `map<...>`)"),
                        );
                    }
                    _ => {}
                }
            } else {
                color[node] = 2;
                stack.pop();
            }
        }
    }
}

/// Two interfaces must not share a wire id.
fn interface_ids(schema: &Schema, diags: &mut Vec<Diagnostic>) {
    let mut seen: HashMap<u64, DefId> = HashMap::new();
    for (id, def) in schema.defs.iter().enumerate() {
        let DefKind::Interface(i) = &def.kind else { continue };
        if let Some(&other) = seen.get(&i.id) {
            let DefKind::Interface(o) = &schema.defs[other].kind else { continue };
            let hint = if o.wire_name == i.wire_name {
                format!("both are named `{}` on the wire; rename one, or give it `@name(\"...\")`", i.wire_name)
            } else {
                "set a different id with `@id(N)`".to_string()
            };
            diags.push(
                Diagnostic::error(
                    Kind::IdCollision,
                    def.span,
                    format!("interface id {:#x} of `{}` collides with `{}`", i.id, i.wire_name, o.wire_name),
                )
                .label("same wire id")
                .with(schema.defs[other].span, "the other interface")
                .hint(hint),
            );
        } else {
            seen.insert(i.id, id);
        }
    }
}

/// Two packages must not generate the same Rust module or file. A package
/// `a.b` is module `a_b` (other packages' code names it `super::a_b`) in
/// file `a.b.rs`, so `a.b` and `a_b` are one module; `Shop` and `shop` are
/// two modules but one file where file names ignore case (macOS, Windows).
/// Each package is reported once, against the first package it clashes with.
fn package_modules(schema: &Schema, diags: &mut Vec<Diagnostic>) {
    let mut modules: HashMap<String, usize> = HashMap::new();
    let mut files: HashMap<String, usize> = HashMap::new();
    for (idx, pkg) in schema.packages.iter().enumerate() {
        if pkg.name.is_empty() {
            continue; // No package declaration: already an error.
        }
        let (module, file) = (pkg.module(), pkg.file_name());
        if let Some(&other) = modules.get(&module) {
            let other = &schema.packages[other];
            diags.push(
                Diagnostic::error(
                    Kind::PackageClash,
                    pkg.span,
                    format!("packages `{}` and `{}` both become Rust module `{module}`", other.name, pkg.name),
                )
                .label(format!("module `{module}`"))
                .with(other.span, format!("module `{module}` too"))
                .hint(format!(
                    "generated code reaches another package through its module (`super::{module}::...`), so two packages cannot share one: rename one of them"
                )),
            );
        } else if let Some(&other) = files.get(&file.to_ascii_lowercase()) {
            let other = &schema.packages[other];
            let other_file = other.file_name();
            diags.push(
                Diagnostic::error(
                    Kind::PackageClash,
                    pkg.span,
                    format!("packages `{}` and `{}` differ only in case", other.name, pkg.name),
                )
                .label(format!("generated into `{file}`"))
                .with(other.span, format!("generated into `{other_file}`"))
                .hint(format!(
                    "`{file}` and `{other_file}` are the same file where file names ignore case (macOS, Windows): rename one of them"
                )),
            );
        }
        modules.entry(module).or_insert(idx);
        files.entry(file.to_ascii_lowercase()).or_insert(idx);
    }
}

/// Whether `ty` can derive `PartialEq` (`eq == false`) or `Eq` (`eq == true`):
/// references (`pb::Ref`), streams (`pb::Stream`), senders (`pb::Sender`)
/// and caches (`pb::Cache`) have neither, floats no `Eq`.
fn ty_ok(ty: &Ty, schema: &Schema, eq: bool) -> bool {
    match ty {
        Ty::Ref(_) | Ty::Stream(_) | Ty::Sender(_) => false,
        Ty::Prim(Prim::F32 | Prim::F64) => !eq,
        Ty::List(t) | Ty::Option(t) | Ty::Box(t) => ty_ok(t, schema, eq),
        Ty::Map(k, v) => ty_ok(k, schema, eq) && ty_ok(v, schema, eq),
        Ty::Def(d) => schema
            .defs
            .get(*d)
            .is_some_and(|d| !matches!(d.kind, DefKind::Model { .. }) && if eq { d.eq } else { d.partial_eq }),
        Ty::Prim(_) | Ty::Unit | Ty::Invalid => true,
    }
}

/// The fields of a model's events.
fn event_fields(def: &Def) -> Vec<&Field> {
    match &def.kind {
        DefKind::Model { events, .. } => events.iter().flat_map(|v| v.payload.fields()).collect(),
        _ => Vec::new(),
    }
}

/// `PartialEq` needs no references, streams, senders or caches inside, `Eq`
/// no floats either; `Clone` needs no streams ([`Def::streams`]: a sender
/// clones). Which declarations hold senders ([`Def::senders`]) is found on
/// the way. A fixpoint over the declaration graph, so recursion through
/// `box` is fine.
fn derives(schema: &mut Schema) {
    loop {
        let mut changed = false;
        for i in 0..schema.defs.len() {
            let def = &schema.defs[i];
            let mut fields = data_fields(def);
            fields.extend(event_fields(def));
            let partial_eq = fields.iter().all(|f| ty_ok(&f.ty, schema, false));
            let eq = partial_eq && fields.iter().all(|f| ty_ok(&f.ty, schema, true));
            let streams = fields.iter().any(|f| schema.holds_stream(&f.ty));
            let senders = fields.iter().any(|f| schema.holds_sender(&f.ty));
            let def = &mut schema.defs[i];
            let (partial_eq, eq) = (def.partial_eq && partial_eq, def.eq && eq);
            let (streams, senders) = (def.streams || streams, def.senders || senders);
            if def.partial_eq != partial_eq || def.eq != eq || def.streams != streams || def.senders != senders {
                def.partial_eq = partial_eq;
                def.eq = eq;
                def.streams = streams;
                def.senders = senders;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
}

/// A model's state and events are plain data: no references, no streams or senders, no caches.
fn model_data(schema: &Schema, diags: &mut Vec<Diagnostic>) {
    for def in &schema.defs {
        if !matches!(def.kind, DefKind::Model { .. }) {
            continue;
        }
        let mut fields = data_fields(def);
        fields.extend(event_fields(def));
        for f in fields {
            if !ty_ok(&f.ty, schema, false) {
                diags.push(
                    Diagnostic::error(Kind::ModelData, f.ty_span, format!("the data of model `{}` cannot hold references, streams, senders or models", def.name))
                        .label("holds a `ref<...>`, a `stream<...>`, a `sender<...>` or a model, directly or inside another type")
                        .with(def.span, "model declared here")
                        .hint("a model's state and events are copied to every cache: keep them plain data, and return references, streams and senders from methods"),
                );
            }
        }
    }
}

/// A `@replay` or `@idempotent` method sends its arguments again (on a new
/// connection, or after healing), but a stream is sent once: its items go
/// to the first receiver. So such a method takes no stream, directly or
/// inside its arguments' declarations. A sender may be sent again (each
/// sending attaches one more stream to its channel), so senders are not
/// checked here. (Replay's other rule, no references, is checked where the
/// method is resolved.)
fn resent_streams(schema: &Schema, diags: &mut Vec<Diagnostic>) {
    for def in &schema.defs {
        let DefKind::Interface(i) = &def.kind else { continue };
        for m in i.methods.iter().filter(|m| m.local.is_none()) {
            let marker = match (m.replay, m.idempotent) {
                (true, _) => "replay",
                (false, true) => "idempotent",
                (false, false) => continue,
            };
            let again = if m.replay { "replayed on a new connection" } else { "retried once after healing" };
            for a in m.args.iter().filter(|a| schema.holds_stream(&a.ty)) {
                let what = if a.ty.has_stream() {
                    format!("`{}`", schema.display(&a.ty))
                } else {
                    format!("`{}`, which holds a stream", schema.display(&a.ty))
                };
                diags.push(
                    Diagnostic::error(
                        Kind::ResentStream,
                        a.ty_span,
                        format!("{} `@{marker}` method cannot take a stream", crate::resolve::article(marker)),
                    )
                    .label(format!("argument `{}` is {what}", a.name))
                    .with(m.span, format!("`@{marker}`: {again}, which sends the arguments again"))
                    .hint(format!(
                        "a stream is sent once, and its items go to the first receiver: remove `@{marker}`, or pass the items some other way"
                    )),
                );
            }
        }
    }
}
