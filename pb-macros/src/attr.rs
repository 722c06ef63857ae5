//! Parsing of `#[remote_interface(...)]` arguments and `#[pb(...)]` options.

use proc_macro2::Span;
use syn::{Attribute, LitInt, LitStr, Path};

use crate::Ctxt;

/// Arguments of `#[remote_interface(...)]` (and `crate = ...` of `#[remote_impl]`).
#[derive(Default)]
pub struct TraitArgs {
    /// Path of the facade crate (`::pb` unless overridden, like serde's `crate`).
    pub krate: Option<Path>,
    /// Interface name override.
    pub name: Option<LitStr>,
    /// Interface id override.
    pub id: Option<LitInt>,
}

impl TraitArgs {
    pub fn parse(cx: &Ctxt, tokens: proc_macro2::TokenStream) -> TraitArgs {
        let mut args = TraitArgs::default();
        let parser = syn::meta::parser(|meta| {
            if meta.path.is_ident("crate") {
                let s: LitStr = meta.value()?.parse()?;
                args.krate = Some(s.parse()?);
            } else if meta.path.is_ident("name") {
                args.name = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("id") {
                args.id = Some(meta.value()?.parse()?);
            } else {
                return Err(meta.error("unknown remote_interface option; expected one of: `crate`, `name`, `id`"));
            }
            Ok(())
        });
        if let Err(e) = syn::parse::Parser::parse2(parser, tokens) {
            cx.push(e);
        }
        args
    }
}

/// Options of one method, from `#[pb(...)]`.
#[derive(Default)]
pub struct MethodOpts {
    /// Runs on the caller's side, never dispatched (PB's `exclude`).
    pub local: Option<Span>,
    /// Safe to re-run after an outage to rebuild the reference it returned.
    pub replay: Option<Span>,
    /// Safe to run twice: retried once after healing.
    pub idempotent: Option<Span>,
    /// Method id override.
    pub id: Option<LitInt>,
    /// Wire name override (the method id is derived from it).
    pub name: Option<LitStr>,
}

/// Take the `#[pb(...)]` attributes out of `attrs` and parse them.
pub fn method_opts(cx: &Ctxt, attrs: &mut Vec<Attribute>) -> MethodOpts {
    let mut opts = MethodOpts::default();
    attrs.retain(|attr| {
        if !attr.path().is_ident("pb") {
            return true;
        }
        let result = attr.parse_nested_meta(|meta| {
            let span = meta.path.get_ident().map_or_else(Span::call_site, |i| i.span());
            if meta.path.is_ident("local") {
                opts.local = Some(span);
            } else if meta.path.is_ident("replay") {
                opts.replay = Some(span);
            } else if meta.path.is_ident("idempotent") {
                opts.idempotent = Some(span);
            } else if meta.path.is_ident("id") {
                opts.id = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("name") {
                opts.name = Some(meta.value()?.parse()?);
            } else {
                return Err(meta.error(
                    "unknown pb option; expected one of: `local`, `replay`, `idempotent`, `id = ...`, `name = \"...\"`",
                ));
            }
            Ok(())
        });
        if let Err(e) = result {
            cx.push(e);
        }
        false
    });
    if let (Some(local), true) = (opts.local, opts.replay.is_some() || opts.idempotent.is_some()) {
        cx.push(syn::Error::new(
            local,
            "a #[pb(local)] method never crosses the wire: `replay` and `idempotent` do not apply",
        ));
    }
    opts
}

/// `crate = "..."` given to `#[remote_impl]`.
pub fn impl_args(cx: &Ctxt, tokens: proc_macro2::TokenStream) -> Option<Path> {
    let mut krate = None;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("crate") {
            let s: LitStr = meta.value()?.parse()?;
            krate = Some(s.parse()?);
            Ok(())
        } else {
            Err(meta.error("unknown remote_impl option; expected `crate = \"...\"`"))
        }
    });
    if let Err(e) = syn::parse::Parser::parse2(parser, tokens) {
        cx.push(e);
    }
    krate
}
