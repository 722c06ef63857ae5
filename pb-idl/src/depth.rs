//! How deeply values nest on the wire, against the runtime's decoding limit.
//!
//! pb's runtime refuses to decode a message nested deeper than
//! `Config::max_depth` (64 by default), counting one level for each struct,
//! tuple, enum, `Option`, newtype, sequence and map it enters (see
//! `pb-runtime/src/wire/depth.rs`). In schema terms: a record, an enum or
//! error, an `option`, a `list`, a `map`, `bytes` (a byte sequence), a
//! `ref`, a `stream` and a `sender` (each an enum on the wire) are a level
//! each; `box` and the scalars are none. A method's arguments travel as one
//! tuple, one more level. A stream is a level where it is sent (a
//! reference); its items travel in replies to pulls, each three levels down
//! (the reply's `Result`, the batch, a struct, and the batch's list). A
//! sender too: its items travel back in a stream of the receiver's, pulled
//! by the side that sent the sender.
//!
//! A declaration whose values nest deeper than the limit once every
//! `option` holds a value and every `list` and `map` an entry is legal but
//! cannot cross a connection with default settings: it gets a warning that
//! names the chain of declarations responsible. Recursion (through `box`,
//! `list` or `map`) is not unrolled: how deep a tree goes depends on the data.

use crate::diag::{Diagnostic, Kind};
use crate::ir::*;

/// The runtime's default `max_depth` (`pb_runtime::wire::depth::DEFAULT_MAX_DEPTH`).
pub(crate) const DEFAULT_MAX_DEPTH: usize = 64;

/// How many declarations of a long chain are named at each end.
const CHAIN_ENDS: usize = 4;

/// Levels above a stream's (or a sender's) item in the reply to a pull: the reply's
/// `Result`, the batch (a struct) and its list of items.
const ITEM_LEVELS: usize = 3;

/// Warn about declarations and methods whose fully filled values nest
/// deeper than [`DEFAULT_MAX_DEPTH`].
pub(crate) fn check(schema: &Schema, diags: &mut Vec<Diagnostic>) {
    let n = schema.defs.len();
    let mut cx = Cx { schema, memo: vec![None; n], root: vec![None; n] };
    cx.all();
    for (d, def) in schema.defs.iter().enumerate() {
        let Some(Depth { levels, next }) = cx.memo[d] else { continue };
        // Report the smallest declarations over the limit: every one holding them is too.
        if levels <= DEFAULT_MAX_DEPTH || next.is_some_and(|n| cx.levels(n) > DEFAULT_MAX_DEPTH) {
            continue;
        }
        let chain = cx.chain(d);
        let holders = cx.root.iter().enumerate().filter(|&(e, r)| e != d && *r == Some(d)).count();
        let holders = match holders {
            0 => String::new(),
            1 => "; one declaration holding it is too deep as well".to_string(),
            n => format!("; {n} declarations holding it are too deep as well"),
        };
        diags.push(
            Diagnostic::warning(
                Kind::NestingDepth,
                def.span,
                format!(
                    "a fully filled `{}` nests {levels} levels deep, deeper than peers decode by default ({DEFAULT_MAX_DEPTH})",
                    def.name
                ),
            )
            .label(format!("{levels} levels through {chain}{holders}"))
            .hint(hint()),
        );
    }
    for def in &schema.defs {
        let DefKind::Interface(i) = &def.kind else { continue };
        for m in i.methods.iter().filter(|m| m.local.is_none()) {
            // Arguments travel as one tuple (a level); results as they are.
            for a in &m.args {
                let (levels, inner) = cx.ty(&a.ty);
                if levels + 1 > DEFAULT_MAX_DEPTH && inner.is_none_or(|d| cx.levels(d) <= DEFAULT_MAX_DEPTH) {
                    let through = inner.map_or_else(String::new, |d| format!(" through {}", cx.chain(d)));
                    diags.push(
                        Diagnostic::warning(
                            Kind::NestingDepth,
                            a.ty_span,
                            format!(
                                "a fully filled argument `{}` of `{}` nests {} levels deep, deeper than peers decode by default ({DEFAULT_MAX_DEPTH})",
                                a.name,
                                m.name,
                                levels + 1
                            ),
                        )
                        .label(format!("{} levels (with the argument tuple){through}", levels + 1))
                        .hint(hint()),
                    );
                }
            }
            let (levels, inner) = cx.ty(&m.ret);
            if levels > DEFAULT_MAX_DEPTH && inner.is_none_or(|d| cx.levels(d) <= DEFAULT_MAX_DEPTH) {
                diags.push(
                    Diagnostic::warning(
                        Kind::NestingDepth,
                        m.span,
                        format!(
                            "a fully filled result of `{}` nests {levels} levels deep, deeper than peers decode by default ({DEFAULT_MAX_DEPTH})",
                            m.name
                        ),
                    )
                    .label(format!("{levels} levels"))
                    .hint(hint()),
                );
            }
        }
    }
    stream_items(&cx, diags);
}

/// Warn about streams and senders whose fully filled items, in the reply
/// to a pull, nest deeper than the limit (unless the item's declaration is
/// itself too deep: that one is reported already).
fn stream_items(cx: &Cx<'_>, diags: &mut Vec<Diagnostic>) {
    let schema = cx.schema;
    let mut places: Vec<(&Ty, crate::span::Span)> = Vec::new();
    for def in &schema.defs {
        for f in fields(def) {
            places.push((&f.ty, f.ty_span));
        }
        let DefKind::Interface(i) = &def.kind else { continue };
        for m in i.methods.iter().filter(|m| m.local.is_none()) {
            places.extend(m.args.iter().map(|a| (&a.ty, a.ty_span)));
            places.push((&m.ret, m.span));
        }
    }
    for (ty, span) in places {
        let mut items = Vec::new();
        streams_in(ty, &mut items);
        for (kind, item) in items {
            let (levels, inner) = cx.ty(item);
            let levels = levels + ITEM_LEVELS;
            if levels <= DEFAULT_MAX_DEPTH || inner.is_some_and(|d| cx.levels(d) > DEFAULT_MAX_DEPTH) {
                continue;
            }
            let through = inner.map_or_else(String::new, |d| format!(" through {}", cx.chain(d)));
            diags.push(
                Diagnostic::warning(
                    Kind::NestingDepth,
                    span,
                    format!(
                        "a fully filled item of `{kind}<{}>` nests {levels} levels deep, deeper than peers decode by default ({DEFAULT_MAX_DEPTH})",
                        schema.display(item)
                    ),
                )
                .label(format!("{levels} levels in the reply to a pull{through}"))
                .hint(hint()),
            );
        }
    }
}

/// The item types of the streams and senders in `ty` (each with `stream`
/// or `sender`), nested ones' too (not through declarations: their fields
/// are places of their own).
fn streams_in<'t>(ty: &'t Ty, out: &mut Vec<(&'static str, &'t Ty)>) {
    match ty {
        Ty::Stream(t) => {
            out.push(("stream", t));
            streams_in(t, out);
        }
        Ty::Sender(t) => {
            out.push(("sender", t));
            streams_in(t, out);
        }
        Ty::List(t) | Ty::Option(t) | Ty::Box(t) => streams_in(t, out),
        Ty::Map(k, v) => {
            streams_in(k, out);
            streams_in(v, out);
        }
        Ty::Prim(_) | Ty::Unit | Ty::Invalid | Ty::Ref(_) | Ty::Def(_) => {}
    }
}

fn hint() -> String {
    "peers refuse such a message unless both raise `pb::Config::max_depth`; flatten the nesting (a `list` of records instead of records inside records) or raise the limit on both sides".to_string()
}

/// The deepest fully filled value of a declaration.
#[derive(Clone, Copy)]
struct Depth {
    /// Levels, counting the declaration itself.
    levels: usize,
    /// The declaration on the deepest path inside it, if any.
    next: Option<DefId>,
}

struct Cx<'a> {
    schema: &'a Schema,
    memo: Vec<Option<Depth>>,
    /// For a declaration over the limit, the smallest one over it on its deepest path.
    root: Vec<Option<DefId>>,
}

/// The data fields of a declaration (every variant's, a model's state).
fn fields(def: &Def) -> Vec<&Field> {
    match &def.kind {
        DefKind::Record(f) => f.iter().collect(),
        DefKind::Enum(v) | DefKind::Error(v) => v.iter().flat_map(|v| v.payload.fields()).collect(),
        DefKind::Model { state, .. } => state.iter().collect(),
        DefKind::Interface(_) => Vec::new(),
    }
}

/// The declarations a type holds by value (not through `ref`, `stream` or
/// `sender`: their items travel in messages of their own).
fn defs_in(ty: &Ty, out: &mut Vec<DefId>) {
    match ty {
        Ty::Def(d) => out.push(*d),
        Ty::List(t) | Ty::Option(t) | Ty::Box(t) => defs_in(t, out),
        Ty::Map(k, v) => {
            defs_in(k, out);
            defs_in(v, out);
        }
        Ty::Prim(_) | Ty::Unit | Ty::Invalid | Ty::Ref(_) | Ty::Stream(_) | Ty::Sender(_) => {}
    }
}

impl Cx<'_> {
    fn levels(&self, d: DefId) -> usize {
        self.memo.get(d).copied().flatten().map_or(0, |d| d.levels)
    }

    /// `A -> B -> C`: the declarations on the deepest path from `d`, the
    /// middle of a long chain elided.
    fn chain(&self, d: DefId) -> String {
        let mut names = Vec::new();
        let mut cur = Some(d);
        while let Some(c) = cur {
            if names.len() > self.schema.defs.len() {
                break; // A cycle in the memo: cannot happen, but never loop.
            }
            names.push(format!("`{}`", self.schema.defs[c].name));
            cur = self.memo.get(c).copied().flatten().and_then(|x| x.next);
        }
        if names.len() > 2 * CHAIN_ENDS + 1 {
            let hidden = names.len() - 2 * CHAIN_ENDS;
            names.splice(CHAIN_ENDS..names.len() - CHAIN_ENDS, [format!("({hidden} more)")]);
        }
        names.join(" -> ")
    }

    /// Compute every declaration's depth, children first (an iterative
    /// depth-first walk: declaration chains can be long).
    fn all(&mut self) {
        let schema = self.schema;
        let n = schema.defs.len();
        let edges: Vec<Vec<DefId>> = (0..n)
            .map(|d| {
                let mut out = Vec::new();
                for f in fields(&schema.defs[d]) {
                    defs_in(&f.ty, &mut out);
                }
                out
            })
            .collect();
        let mut seen = vec![false; n];
        for root in 0..n {
            if seen[root] {
                continue;
            }
            seen[root] = true;
            let mut stack = vec![(root, 0usize)];
            while let Some((node, next)) = stack.last_mut() {
                let node = *node;
                if let Some(&child) = edges[node].get(*next) {
                    *next += 1;
                    if child < n && !seen[child] {
                        seen[child] = true;
                        stack.push((child, 0));
                    }
                } else {
                    stack.pop();
                    self.finish(node);
                }
            }
        }
    }

    /// Depth of `d`, from its fields; a declaration not finished yet is on
    /// the current path (recursion) and counts nothing.
    fn finish(&mut self, d: DefId) {
        let mut best = Depth { levels: 1, next: None };
        for f in fields(&self.schema.defs[d]) {
            let (levels, next) = self.ty(&f.ty);
            if levels + 1 > best.levels {
                best = Depth { levels: levels + 1, next };
            }
        }
        self.memo[d] = Some(best);
        if best.levels > DEFAULT_MAX_DEPTH {
            self.root[d] = Some(best.next.and_then(|n| self.root.get(n).copied().flatten()).unwrap_or(d));
        }
    }

    /// Levels of a fully filled value of `ty`, and the first declaration on its deepest path.
    fn ty(&self, ty: &Ty) -> (usize, Option<DefId>) {
        match ty {
            Ty::Prim(Prim::Bytes) | Ty::Ref(_) | Ty::Stream(_) | Ty::Sender(_) => (1, None),
            Ty::Prim(_) | Ty::Unit | Ty::Invalid => (0, None),
            Ty::Box(t) => self.ty(t),
            Ty::List(t) | Ty::Option(t) => {
                let (l, d) = self.ty(t);
                (l + 1, d)
            }
            Ty::Map(k, v) => {
                let (lk, dk) = self.ty(k);
                let (lv, dv) = self.ty(v);
                if lk > lv { (lk + 1, dk) } else { (lv + 1, dv) }
            }
            Ty::Def(d) => match self.memo.get(*d).copied().flatten() {
                Some(x) => (x.levels, Some(*d)),
                None => (0, None),
            },
        }
    }
}
