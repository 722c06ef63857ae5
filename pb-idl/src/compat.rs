//! Compatibility of two versions of a schema.
//!
//! pb encodes with postcard, which is positional: field and argument names
//! never reach the wire, but their order and types do, and an enum variant
//! travels as its index. Interfaces and methods travel as their ids. The
//! rules follow from that:
//!
//! | change | verdict |
//! | --- | --- |
//! | declaration added | compatible |
//! | declaration removed, or its kind changed | breaking |
//! | interface wire name or id changed | breaking |
//! | interface renamed, wire name kept with `@name(...)` (same id) | compatible (matched by wire identity, as methods are) |
//! | method added | compatible (an old peer answers `UnknownMethod`) |
//! | method removed, made `@local`, or its wire name or id changed | breaking |
//! | method argument added or removed | breaking (arguments are positional; there are no defaults on the wire) |
//! | argument, result, or error type changed | breaking |
//! | a `stream<T>`'s item type changed (as a `list<T>`'s element type), or a `list<T>` made a `stream<T>` or back | breaking (a stream travels as a reference, its items in replies of their own) |
//! | a `sender<T>`'s item type changed (as a stream's), or a `stream<T>` made a `sender<T>` or back | breaking (a sender's items travel the other way, in a stream of the receiver's) |
//! | argument renamed | compatible |
//! | `@replay` or `@idempotent` added or removed | compatible (caller-side behavior) |
//! | `@local` method added, removed, or changed; local made remote | compatible (not on the wire) |
//! | record or model-state field added, removed, re-typed or moved | breaking |
//! | field renamed (same position and type) | compatible |
//! | enum variant added at the end | compatible (an old peer fails only on a value it does not know; an old cache mirror whose state comes to hold one stops, with `Change::Stopped`) |
//! | model event variant added at the end | compatible, degraded: an old observer cannot decode the new event, so each one reaches it as a full-state resync (`Change::Resynced`), never as the event |
//! | error variant added | breaking (it moves the implicit `Pb` variant to another index) |
//! | variant inserted before others, removed, moved, or its data changed | breaking |
//! | variant renamed (same position and data) | compatible |
//! | model wire name changed | breaking (a cache checks it on arrival) |
//!
//! Names do travel on Twisted's wire: a copy's state is a dict by field
//! name, and an enum value is its variant's name. So with peers on both
//! wires ([`Peers::WithTwisted`], `pb-idl compat --twisted`), renaming a
//! field of a record or of a model's state, a variant, or a struct
//! variant's field is breaking. (A field moved is still breaking: pb's
//! wire is positional.) Arguments go by position on both wires, so
//! renaming one stays compatible.

use std::fmt::Write as _;

use crate::ir::*;

/// One difference between two schema versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Whether a peer built from one version can fail talking to one built from the other.
    pub breaking: bool,
    /// What changed: `package.Decl` or `package.Decl.member`.
    pub path: String,
    /// How it changed, and why that is (in)compatible.
    pub what: String,
}

/// Which wires the peers of a schema speak: what a change may break.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Peers {
    /// pb's own wire only: postcard, positional, where names never travel.
    #[default]
    Pb,
    /// pb's wire and Twisted's (Python peers from `gen --python`), where
    /// field and variant names travel too.
    WithTwisted,
}

/// Every change from `old` to `new` for peers on pb's own wire, old
/// declarations first, in source order; [`compare_for`] with
/// [`Peers::Pb`].
///
/// Declarations are matched by name, except interfaces: they are found by
/// their wire identity first (as methods are), so renaming one while
/// pinning its wire name with `@name(...)` is a compatible rename.
pub fn compare(old: &Schema, new: &Schema) -> Vec<Change> {
    compare_for(old, new, Peers::Pb)
}

/// Every change from `old` to `new` for peers on the wires of `peers`
/// (see the module docs: with Twisted peers, renames of fields and
/// variants are breaking).
pub fn compare_for(old: &Schema, new: &Schema, peers: Peers) -> Vec<Change> {
    let matched: Vec<Option<DefId>> = (0..old.defs.len()).map(|i| counterpart(old, new, i)).collect();
    let mut cx = Cx { old, new, matched, peers, out: Vec::new() };
    for (i, d) in old.defs.iter().enumerate() {
        let path = old.qualified(i);
        match cx.matched[i] {
            None => cx.push(true, &path, format!("{} removed", d.kind.keyword())),
            Some(n) => {
                let n_path = new.qualified(n);
                if n_path != path {
                    cx.push(false, &path, format!("renamed to `{n_path}` with the same wire identity"));
                }
                cx.def(&path, d, &new.defs[n]);
            }
        }
    }
    for i in 0..new.defs.len() {
        if !cx.matched.contains(&Some(i)) {
            cx.push(false, &new.qualified(i), format!("{} added", new.defs[i].kind.keyword()));
        }
    }
    cx.out
}

/// The declaration of `new` that `old.defs[def]` became: for an interface,
/// the one with the same wire identity (wire name and id), else the one
/// with the same name (unless that one is another old interface's
/// counterpart by identity).
fn counterpart(old: &Schema, new: &Schema, def: DefId) -> Option<DefId> {
    let d = &old.defs[def];
    // Wire identity: the wire name and the id (a change of either is breaking).
    fn iface_id(s: &Schema, i: DefId) -> Option<(u64, &str)> {
        match &s.defs.get(i)?.kind {
            DefKind::Interface(x) => Some((x.id, x.wire_name.as_str())),
            _ => None,
        }
    }
    if let Some(id) = iface_id(old, def)
        && let Some(n) = (0..new.defs.len()).find(|&n| iface_id(new, n) == Some(id))
    {
        return Some(n);
    }
    let pkg = old.packages.get(d.package).map_or("", |p| p.name.as_str());
    let n = new.find_id(pkg, &d.name)?;
    // An interface that took another old interface's identity belongs to that one.
    let taken =
        iface_id(new, n).is_some_and(|id| (0..old.defs.len()).any(|o| o != def && iface_id(old, o) == Some(id)));
    (!taken).then_some(n)
}

/// One line per change (`breaking: path: what`), then a summary line.
pub fn render(changes: &[Change]) -> String {
    let mut out = String::new();
    for c in changes {
        let verdict = if c.breaking { "breaking" } else { "compatible" };
        // Wire names are strings of the schema: never send their control characters raw.
        let (path, what) = (crate::view::escape(&c.path), crate::view::escape(&c.what));
        let _ = writeln!(out, "{verdict}: {path}: {what}");
    }
    let breaking = changes.iter().filter(|c| c.breaking).count();
    match changes.len() {
        0 => out.push_str("no changes\n"),
        n => {
            let _ = writeln!(
                out,
                "{n} change{}: {breaking} breaking, {} compatible",
                if n == 1 { "" } else { "s" },
                n - breaking
            );
        }
    }
    out
}

/// How a type is compared across versions: as written, except that a
/// reference names its interface by `iface` (the new version's index of the
/// matched interface), so renaming an interface behind `@name(...)` changes
/// no reference to it.
fn wire(schema: &Schema, ty: &Ty, iface: &dyn Fn(DefId) -> String) -> String {
    match ty {
        Ty::Ref(d) => format!("ref<{}>", iface(*d)),
        Ty::List(t) => format!("list<{}>", wire(schema, t, iface)),
        Ty::Option(t) => format!("option<{}>", wire(schema, t, iface)),
        Ty::Box(t) => format!("box<{}>", wire(schema, t, iface)),
        Ty::Stream(t) => format!("stream<{}>", wire(schema, t, iface)),
        Ty::Sender(t) => format!("sender<{}>", wire(schema, t, iface)),
        Ty::Map(k, v) => format!("map<{}, {}>", wire(schema, k, iface), wire(schema, v, iface)),
        _ => schema.display(ty),
    }
}

/// Which version a type belongs to.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    Old,
    New,
}

struct Cx<'a> {
    old: &'a Schema,
    new: &'a Schema,
    /// For each old declaration, its counterpart in `new`.
    matched: Vec<Option<DefId>>,
    peers: Peers,
    out: Vec<Change>,
}

/// A positional slot: a field, an argument, or a variant.
struct Slot {
    name: String,
    /// What goes on the wire, for comparison.
    wire: String,
    /// How it is shown (with field names for struct variants).
    shown: String,
    /// The field names of a struct variant (not on the wire).
    field_names: Vec<String>,
}

/// How positional slots may grow at the end.
#[derive(Clone, Copy, PartialEq)]
enum Growth {
    /// Appending breaks (record fields, arguments).
    Breaking(&'static str),
    /// Appending is fine (enum variants).
    Compatible(&'static str),
}

impl Cx<'_> {
    /// `ty` of version `side`, as compared across versions.
    fn wire(&self, side: Side, ty: &Ty) -> String {
        match side {
            Side::Old => wire(self.old, ty, &|d| match self.matched.get(d).copied().flatten() {
                Some(n) => n.to_string(),
                None => self.old.qualified(d),
            }),
            Side::New => wire(self.new, ty, &|d| d.to_string()),
        }
    }

    fn schema(&self, side: Side) -> &Schema {
        if side == Side::Old { self.old } else { self.new }
    }

    fn push(&mut self, breaking: bool, path: &str, what: impl Into<String>) {
        self.out.push(Change { breaking, path: path.to_string(), what: what.into() });
    }

    fn def(&mut self, path: &str, old: &Def, new: &Def) {
        match (&old.kind, &new.kind) {
            (DefKind::Record(a), DefKind::Record(b)) => {
                let (a, b) = (self.field_slots(Side::Old, a), self.field_slots(Side::New, b));
                self.slots(
                    path,
                    "field",
                    &a,
                    &b,
                    Growth::Breaking("records are encoded by position: peers of the other version cannot decode it"),
                );
            }
            (DefKind::Enum(a), DefKind::Enum(b)) => {
                let (a, b) = (self.variant_slots(Side::Old, a), self.variant_slots(Side::New, b));
                self.slots(path, "variant", &a, &b, Growth::Compatible(
                        "old peers cannot decode only this new value (an old cache mirror whose state comes to hold it stops)",
                    ));
            }
            (DefKind::Error(a), DefKind::Error(b)) => {
                let (a, b) = (self.variant_slots(Side::Old, a), self.variant_slots(Side::New, b));
                self.slots(
                    path,
                    "variant",
                    &a,
                    &b,
                    Growth::Breaking(
                        "it moves the implicit `Pb` variant to another index, so transport errors decode wrongly",
                    ),
                );
            }
            (
                DefKind::Model { state: sa, events: ea, wire_name: na },
                DefKind::Model { state: sb, events: eb, wire_name: nb },
            ) => {
                if na != nb {
                    self.push(
                        true,
                        path,
                        format!("wire name changed from `{na}` to `{nb}`: caches of the other version are refused"),
                    );
                }
                let (a, b) = (self.field_slots(Side::Old, sa), self.field_slots(Side::New, sb));
                self.slots(
                    &format!("{path}.state"),
                    "field",
                    &a,
                    &b,
                    Growth::Breaking("the state is encoded by position: peers of the other version cannot decode it"),
                );
                let (a, b) = (self.variant_slots(Side::Old, ea), self.variant_slots(Side::New, eb));
                self.slots(
                    &format!("{path}.events"),
                    "variant",
                    &a,
                    &b,
                    Growth::Compatible(
                        "old observers cannot decode this event: each one reaches them as a full-state resync, never as the event",
                    ),
                );
            }
            (DefKind::Interface(a), DefKind::Interface(b)) => self.interface(path, a, b),
            (a, b) => self.push(true, path, format!("changed from {} to {}", a.keyword(), b.keyword())),
        }
    }

    fn field_slots(&self, side: Side, fields: &[Field]) -> Vec<Slot> {
        let schema = self.schema(side);
        fields
            .iter()
            .map(|f| Slot {
                name: f.name.clone(),
                wire: self.wire(side, &f.ty),
                shown: schema.display(&f.ty),
                field_names: Vec::new(),
            })
            .collect()
    }

    fn variant_slots(&self, side: Side, variants: &[Variant]) -> Vec<Slot> {
        let schema = self.schema(side);
        variants
            .iter()
            .map(|v| {
                let (wire, shown) = match &v.payload {
                    Payload::Unit => (String::new(), "no data".to_string()),
                    Payload::Tuple(f) => {
                        let w: Vec<String> = f.iter().map(|f| self.wire(side, &f.ty)).collect();
                        let t: Vec<String> = f.iter().map(|f| schema.display(&f.ty)).collect();
                        (format!("({})", w.join(", ")), format!("({})", t.join(", ")))
                    }
                    Payload::Struct(f) => {
                        let w: Vec<String> = f.iter().map(|f| self.wire(side, &f.ty)).collect();
                        let n: Vec<String> =
                            f.iter().map(|f| format!("{}: {}", f.name, schema.display(&f.ty))).collect();
                        (format!("({})", w.join(", ")), format!("{{ {} }}", n.join(", ")))
                    }
                };
                let field_names = match &v.payload {
                    Payload::Struct(f) => f.iter().map(|f| f.name.clone()).collect(),
                    _ => Vec::new(),
                };
                Slot { name: v.name.clone(), wire, shown, field_names }
            })
            .collect()
    }

    /// Whether renaming a `what` (or the fields of one) breaks, and why.
    fn renamed(&self, what: &str, fields: bool) -> (bool, &'static str) {
        match (self.peers, what) {
            (Peers::Pb, _) => (false, "names are not on the wire"),
            (Peers::WithTwisted, "argument") => (false, "arguments go by position on both wires"),
            (Peers::WithTwisted, "variant") if !fields => (true, "on Twisted's wire a variant goes by its name"),
            (Peers::WithTwisted, _) => (true, "on Twisted's wire fields go by name (a dict of them)"),
        }
    }

    /// Compare positional slots, matching by name first.
    fn slots(&mut self, path: &str, what: &str, old: &[Slot], new: &[Slot], growth: Growth) {
        let mut used = vec![false; new.len()];
        for (i, o) in old.iter().enumerate() {
            if let Some(j) = new.iter().position(|n| n.name == o.name) {
                used[j] = true;
                let n = &new[j];
                if j != i {
                    self.push(
                        true,
                        path,
                        format!(
                            "{what} `{}` moved from position {} to {}: the wire is positional",
                            o.name,
                            i + 1,
                            j + 1
                        ),
                    );
                } else if o.wire != n.wire {
                    self.push(true, path, format!("{what} `{}` changed from `{}` to `{}`", o.name, o.shown, n.shown));
                } else if o.field_names != n.field_names {
                    let (breaking, why) = self.renamed(what, true);
                    let change =
                        format!("{what} `{}` renamed its fields (`{}` to `{}`): {why}", o.name, o.shown, n.shown);
                    self.push(breaking, path, change);
                }
                continue;
            }
            match new.get(i) {
                Some(n) if !used[i] && !old.iter().any(|x| x.name == n.name) && n.wire == o.wire => {
                    used[i] = true;
                    let (breaking, why) = self.renamed(what, false);
                    self.push(breaking, path, format!("{what} `{}` renamed to `{}`: {why}", o.name, n.name));
                }
                _ => self.push(true, path, format!("{what} `{}` removed", o.name)),
            }
        }
        for (j, n) in new.iter().enumerate() {
            if used[j] {
                continue;
            }
            if j < old.len() {
                self.push(
                    true,
                    path,
                    format!(
                        "{what} `{}` inserted at position {}: it moves the ones after it on the wire",
                        n.name,
                        j + 1
                    ),
                );
                continue;
            }
            match growth {
                Growth::Breaking(why) => self.push(true, path, format!("{what} `{}` added: {why}", n.name)),
                Growth::Compatible(why) => {
                    self.push(false, path, format!("{what} `{}` added at the end: {why}", n.name))
                }
            }
        }
    }

    fn interface(&mut self, path: &str, old: &Interface, new: &Interface) {
        if old.wire_name != new.wire_name || old.id != new.id {
            self.push(
                true,
                path,
                format!("wire identity changed from `{}` ({:#x}) to `{}` ({:#x}): peers of the other version cannot find it", old.wire_name, old.id, new.wire_name, new.id),
            );
        }
        for o in &old.methods {
            let mpath = format!("{path}.{}", o.name);
            let same_id = new.methods.iter().find(|n| n.local.is_none() && o.local.is_none() && n.id == o.id);
            let same_name = new.methods.iter().find(|n| n.name == o.name);
            let Some(n) = same_id.or(same_name) else {
                let breaking = o.local.is_none();
                let why = if breaking { "old callers get `UnknownMethod`" } else { "it was local: not on the wire" };
                self.push(breaking, &mpath, format!("method removed: {why}"));
                continue;
            };
            match (o.local.is_some(), n.local.is_some()) {
                (true, true) => {
                    if o.local != n.local || o.ret != n.ret {
                        self.push(false, &mpath, "local method changed: not on the wire");
                    }
                    continue;
                }
                (true, false) => {
                    self.push(false, &mpath, "local method made remote: old peers never call it");
                    continue;
                }
                (false, true) => {
                    self.push(true, &mpath, "method made local: old callers get `UnknownMethod`");
                    continue;
                }
                (false, false) => {}
            }
            if n.id != o.id {
                self.push(
                    true,
                    &mpath,
                    format!(
                        "wire id changed from {:#x} (`{}`) to {:#x} (`{}`): old callers get `UnknownMethod`",
                        o.id, o.wire_name, n.id, n.wire_name
                    ),
                );
            }
            if n.name != o.name {
                self.push(false, &mpath, format!("renamed to `{}` with the same wire id", n.name));
            }
            let (a, b) = (self.field_slots(Side::Old, &o.args), self.field_slots(Side::New, &n.args));
            self.slots(
                &mpath,
                "argument",
                &a,
                &b,
                Growth::Breaking("arguments are positional and have no defaults on the wire; add a new method instead"),
            );
            if self.wire(Side::Old, &o.ret) != self.wire(Side::New, &n.ret) {
                let (ro, rn) = (self.old.display(&o.ret), self.new.display(&n.ret));
                self.push(true, &mpath, format!("result changed from `{ro}` to `{rn}`"));
            }
            let eo = o.err.map_or("pb.Error".to_string(), |e| self.old.qualified(e));
            let en = n.err.map_or("pb.Error".to_string(), |e| self.new.qualified(e));
            if eo != en {
                self.push(true, &mpath, format!("error changed from `{eo}` to `{en}`"));
            }
            for (marker, a, b) in [("replay", o.replay, n.replay), ("idempotent", o.idempotent, n.idempotent)] {
                if a != b {
                    let verb = if b { "added" } else { "removed" };
                    self.push(
                        false,
                        &mpath,
                        format!("`@{marker}` {verb}: only changes what the caller does after an outage"),
                    );
                }
            }
        }
        for n in &new.methods {
            let known = old
                .methods
                .iter()
                .any(|o| o.name == n.name || (o.local.is_none() && n.local.is_none() && o.id == n.id));
            if !known {
                let why = if n.local.is_some() {
                    "local, not on the wire"
                } else {
                    "old peers answer `UnknownMethod` if it is called"
                };
                self.push(false, &format!("{path}.{}", n.name), format!("method added: {why}"));
            }
        }
    }
}
