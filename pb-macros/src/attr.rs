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
    /// How method names become wire names (`rename_all = "camelCase"`).
    pub rename_all: Option<RenameRule>,
}

/// A `rename_all` rule: how a method's Rust name (snake_case) becomes its
/// wire name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RenameRule {
    /// `get_user` -> `getUser`.
    CamelCase,
    /// `get_user` -> `GetUser`.
    PascalCase,
}

impl RenameRule {
    /// The rules, as written in `rename_all = "..."`.
    const ALL: [(&'static str, RenameRule); 2] =
        [("camelCase", RenameRule::CamelCase), ("PascalCase", RenameRule::PascalCase)];

    fn parse(lit: &LitStr) -> syn::Result<RenameRule> {
        let value = lit.value();
        Self::ALL.iter().find(|(name, _)| *name == value).map(|(_, rule)| *rule).ok_or_else(|| {
            let known: Vec<String> = Self::ALL.iter().map(|(name, _)| format!("`{name}`")).collect();
            syn::Error::new(
                lit.span(),
                format!("unknown rename_all rule `{value}`; expected one of: {}", known.join(", ")),
            )
        })
    }

    /// `name` (snake_case) under this rule, as serde's `rename_all` does:
    /// each `_` is dropped and the letter after it is capitalized.
    pub fn apply(self, name: &str) -> String {
        let mut out = String::with_capacity(name.len());
        let mut upper = self == RenameRule::PascalCase;
        for c in name.chars() {
            if c == '_' {
                upper = !out.is_empty() || self == RenameRule::PascalCase;
            } else if std::mem::take(&mut upper) {
                out.extend(c.to_uppercase());
            } else {
                out.push(c);
            }
        }
        out
    }
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
            } else if meta.path.is_ident("rename_all") {
                args.rename_all = Some(RenameRule::parse(&meta.value()?.parse()?)?);
            } else {
                return Err(
                    meta.error("unknown remote_interface option; expected one of: `crate`, `name`, `id`, `rename_all`")
                );
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
    /// The caller does not wait for an answer (Twisted's `answerRequired = 0`).
    pub oneway: Option<Span>,
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
            } else if meta.path.is_ident("oneway") {
                opts.oneway = Some(span);
            } else if meta.path.is_ident("id") {
                opts.id = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("name") {
                opts.name = Some(meta.value()?.parse()?);
            } else {
                return Err(meta.error(
                    "unknown pb option; expected one of: `local`, `replay`, `idempotent`, `oneway`, `id = ...`, `name = \"...\"`",
                ));
            }
            Ok(())
        });
        if let Err(e) = result {
            cx.push(e);
        }
        false
    });
    if let (Some(local), true) =
        (opts.local, opts.replay.is_some() || opts.idempotent.is_some() || opts.oneway.is_some())
    {
        cx.push(syn::Error::new(
            local,
            "a #[pb(local)] method never crosses the wire: `replay`, `idempotent` and `oneway` do not apply",
        ));
    }
    if let (Some(oneway), true) = (opts.oneway, opts.replay.is_some() || opts.idempotent.is_some()) {
        cx.push(syn::Error::new(
            oneway,
            "a #[pb(oneway)] call is not awaited, so it is never replayed or retried: `replay` and `idempotent` do not apply",
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

#[cfg(test)]
mod tests {
    use super::RenameRule::{CamelCase, PascalCase};

    #[test]
    fn rename_rules_follow_serde() {
        assert_eq!(CamelCase.apply("get_user"), "getUser");
        assert_eq!(CamelCase.apply("get_user_by_id2"), "getUserById2");
        assert_eq!(CamelCase.apply("ping"), "ping");
        assert_eq!(CamelCase.apply("_private"), "private");
        assert_eq!(CamelCase.apply("a__b_"), "aB");
        assert_eq!(PascalCase.apply("get_user"), "GetUser");
        assert_eq!(PascalCase.apply("_private"), "Private");
    }
}
