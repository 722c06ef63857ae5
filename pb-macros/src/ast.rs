//! The typed, validated form of a `#[remote_interface]` trait.
//!
//! Parsing collects every mistake into the [`Ctxt`] (so the user sees them
//! all at once) and keeps the syn nodes for spans; expansion only ever sees a
//! model built from input that passed these checks.

use std::collections::HashMap;

use syn::{FnArg, GenericArgument, Ident, ItemTrait, Pat, PathArguments, ReturnType, TraitItem, Type};

use crate::attr::{self, TraitArgs};
use crate::{Ctxt, ids};

/// A remote interface.
pub struct Interface {
    /// The trait, with `#[pb]` attributes removed.
    pub item: ItemTrait,
    /// Interface name on the wire.
    pub name: String,
    /// Interface id on the wire.
    pub id: u64,
    /// The remote methods (local ones are left in the trait only).
    pub methods: Vec<Method>,
}

/// One remote method.
pub struct Method {
    /// `#[cfg(...)]` attributes, repeated on everything generated for it.
    pub cfgs: Vec<syn::Attribute>,
    pub ident: Ident,
    pub name: String,
    pub id: u32,
    pub replay: bool,
    pub idempotent: bool,
    /// `#[pb(oneway)]`: the proxy sends the call and does not wait for its
    /// answer.
    pub oneway: bool,
    pub args: Vec<Arg>,
    /// `T` of `Result<T, E>`.
    pub ok: Type,
    /// `Some(dyn Iface)` when `T` is `Arc<dyn Iface>`.
    pub ok_ref: Option<Type>,
    /// `T` is written `Cache<S>` (any path ending in `Cache`): a cached model.
    pub ok_cache: bool,
    /// `T` is written `Stream<T>` (any path ending in `Stream`): a stream.
    pub ok_stream: bool,
    /// `E` of `Result<T, E>`.
    pub err: Type,
}

impl Method {
    /// Hash of the normalized signature (see `ids::signature`).
    pub fn signature_hash(&self) -> u64 {
        let args: Vec<&Type> = self.args.iter().map(|a| &a.ty).collect();
        pb_ids::signature_hash(&ids::signature(&self.name, &args, &self.ok, &self.err))
    }
}

/// One argument of a remote method.
pub struct Arg {
    pub ident: Ident,
    pub ty: Type,
    /// `Some(dyn Iface)` when the argument is `Arc<dyn Iface>`.
    pub by_ref: Option<Type>,
}

/// `Some(dyn Iface)` if `ty` is written `Arc<dyn Iface>` (any path to `Arc`).
pub fn arc_dyn(ty: &Type) -> Option<Type> {
    let Type::Path(p) = ty else { return None };
    if p.qself.is_some() {
        return None;
    }
    let last = p.path.segments.last()?;
    if last.ident != "Arc" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else { return None };
    if args.args.len() != 1 {
        return None;
    }
    match args.args.first()? {
        GenericArgument::Type(inner @ Type::TraitObject(_)) => Some(inner.clone()),
        _ => None,
    }
}

/// Whether `ty` is written `Cache<S>` (or `pb::Cache<S>`, ...).
pub fn is_cache(ty: &Type) -> bool {
    is_path_to(ty, "Cache")
}

/// Whether `ty` is written `Name<X>` (any path ending in `Name`).
pub fn is_path_to(ty: &Type, name: &str) -> bool {
    let Type::Path(p) = ty else { return false };
    p.qself.is_none()
        && p.path.segments.last().is_some_and(|last| {
            last.ident == name && matches!(&last.arguments, PathArguments::AngleBracketed(a) if a.args.len() == 1)
        })
}

/// `(T, E)` if `ty` is written `Result<T, E>`.
fn result_parts(ty: &Type) -> Option<(Type, Type)> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else { return None };
    let mut types = args.args.iter().filter_map(|a| match a {
        GenericArgument::Type(t) => Some(t.clone()),
        _ => None,
    });
    let ok = types.next()?;
    let err = types.next()?;
    types.next().is_none().then_some((ok, err))
}

impl Interface {
    /// Parse and validate; mistakes go to `cx`. Always returns the trait
    /// (for the fallback expansion) and the methods that were valid.
    pub fn parse(cx: &Ctxt, args: &TraitArgs, mut item: ItemTrait) -> Interface {
        if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
            cx.error(
                &item.generics,
                "remote interfaces cannot be generic: the interface must have one identity on the wire",
            );
        }
        let name = args.name.as_ref().map_or_else(|| item.ident.to_string(), |n| n.value());
        let id = match &args.id {
            Some(lit) => lit.base10_parse::<u64>().unwrap_or_else(|e| {
                cx.push(e);
                0
            }),
            None => pb_ids::interface_id(&name),
        };
        let mut methods = Vec::new();
        let mut seen: HashMap<u32, String> = HashMap::new();
        for trait_item in &mut item.items {
            match trait_item {
                TraitItem::Fn(f) => {
                    let opts = attr::method_opts(cx, &mut f.attrs);
                    if opts.local.is_some() {
                        if f.default.is_none() {
                            cx.error(&f.sig.ident, "a #[pb(local)] method needs a default body: it runs on the caller's side");
                        }
                        if let Some(a) = f.sig.asyncness {
                            cx.error(a, "a #[pb(local)] method cannot be `async fn` in a dyn-compatible trait; return `pb::BoxFuture<'_, T>` and write `Box::pin(async move { ... })`");
                        }
                        continue;
                    }
                    let Some(mut m) = Method::parse(cx, &f.sig) else { continue };
                    m.cfgs = f.attrs.iter().filter(|a| a.path().is_ident("cfg")).cloned().collect();
                    m.replay = opts.replay.is_some();
                    m.idempotent = opts.idempotent.is_some();
                    m.oneway = opts.oneway.is_some();
                    if let Some(n) = &opts.name {
                        m.name = n.value();
                    } else if let Some(rule) = args.rename_all {
                        m.name = rule.apply(&m.name);
                    }
                    if m.oneway && !matches!(&m.ok, Type::Tuple(t) if t.elems.is_empty()) {
                        cx.error(&f.sig.output, "a #[pb(oneway)] method returns `Result<(), E>`: its caller never sees an answer, only a failure to send the call");
                    }
                    m.id = match &opts.id {
                        Some(lit) => lit.base10_parse::<u32>().unwrap_or_else(|e| {
                            cx.push(e);
                            0
                        }),
                        None => pb_ids::method_id(&m.name),
                    };
                    if m.replay && m.args.iter().any(|a| a.by_ref.is_some()) {
                        cx.error(&f.sig.inputs, "#[pb(replay)] methods are re-run on a new connection: their arguments must be copies, not references");
                    }
                    if m.replay && m.ok_ref.is_none() && !m.ok_cache && !m.ok_stream {
                        cx.error(&f.sig.output, "#[pb(replay)] rebuilds a reference after an outage: the method must return `Result<Arc<dyn Iface>, E>`, `Result<pb::Cache<S>, E>` or `Result<pb::Stream<T>, E>`");
                    }
                    if pb_ids::is_reserved_method_id(m.id) {
                        cx.error(&f.sig.ident, format!("method id {:#x} is reserved by pb (interface descriptions); set a different `#[pb(id = ...)]`", m.id));
                    }
                    if let Some(other) = seen.insert(m.id, m.name.clone()) {
                        cx.error(&f.sig.ident, format!("method id {:#x} of `{}` collides with `{other}`; set a different `#[pb(id = ...)]`", m.id, m.name));
                    }
                    methods.push(m);
                }
                TraitItem::Const(c) => cx.error(c, "remote interfaces cannot have associated consts: the trait must work as `dyn Trait`; use a method"),
                TraitItem::Type(t) => cx.error(t, "remote interfaces cannot have associated types: the trait must work as `dyn Trait`; use a concrete type"),
                other => cx.error(other, "unsupported item in a remote interface; expected `async fn` methods"),
            }
        }
        Interface { item, name, id, methods }
    }
}

impl Method {
    fn parse(cx: &Ctxt, sig: &syn::Signature) -> Option<Method> {
        let errors_before = cx.count();
        if sig.asyncness.is_none() {
            cx.error(sig.fn_token, "remote methods must be `async fn`; mark a method that runs on the caller's side with #[pb(local)] and give it a body");
        }
        if sig.constness.is_some()
            || !matches!(sig.safety, syn::Safety::Default)
            || sig.abi.is_some()
            || sig.variadic.is_some()
        {
            cx.error(sig, "remote methods must be plain `async fn` (no const, unsafe, extern or variadics)");
        }
        if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
            cx.error(&sig.generics, "remote methods cannot be generic: arguments must have one encoding on the wire");
        }
        match sig.receiver() {
            None => cx.error(&sig.ident, "remote methods need a `&self` receiver"),
            Some(r) => match &r.kind {
                syn::ReceiverKind::Reference(_, _, None) if r.mutability.is_none() => {}
                syn::ReceiverKind::Reference(..) => {
                    cx.error(r, "remote methods take `&self`: many callers share one object; use interior mutability")
                }
                _ => {
                    cx.error(r, "remote methods take `&self`, not `self` by value: the object is shared, not consumed")
                }
            },
        }
        let mut args = Vec::new();
        for input in sig.inputs.iter().skip(1) {
            let FnArg::Typed(pt) = input else { continue };
            let ident = match &*pt.pat {
                Pat::Ident(pi) if pi.subpat.is_none() && pi.by_ref.is_none() => pi.ident.clone(),
                other => {
                    cx.error(other, "use a plain identifier for remote method arguments");
                    continue;
                }
            };
            match &*pt.ty {
                Type::Reference(r) => cx.error(r, "remote method arguments must be owned values (for example `String`, not `&str`): they are decoded from the wire"),
                Type::ImplTrait(t) => cx.error(t, "remote method arguments cannot be `impl Trait`: use a concrete type, or `Arc<dyn Iface>` to pass an object by reference"),
                _ => {}
            }
            args.push(Arg { ident, by_ref: arc_dyn(&pt.ty), ty: (*pt.ty).clone() });
        }
        let (ok, err) = match &sig.output {
            ReturnType::Type(_, ty) => match result_parts(ty) {
                Some(parts) => parts,
                None => {
                    cx.error(ty, "remote methods must return `Result<T, E>` where `E: From<pb::Error>`: transport failures reach the caller through `E`");
                    return None;
                }
            },
            ReturnType::Default => {
                cx.error(&sig.ident, "remote methods must return `Result<T, E>` where `E: From<pb::Error>`: transport failures reach the caller through `E`");
                return None;
            }
        };
        if cx.count() > errors_before {
            return None;
        }
        let name = sig.ident.to_string();
        let name = name.strip_prefix("r#").map_or(name.clone(), str::to_string);
        Some(Method {
            cfgs: Vec::new(),
            ident: sig.ident.clone(),
            name,
            id: 0,
            replay: false,
            idempotent: false,
            oneway: false,
            args,
            ok_ref: arc_dyn(&ok),
            ok_cache: is_cache(&ok),
            ok_stream: is_path_to(&ok, "Stream"),
            ok,
            err,
        })
    }
}
