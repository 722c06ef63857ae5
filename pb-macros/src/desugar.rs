//! `async fn` in a dyn-compatible trait: methods return a boxed `Send`
//! future that borrows only `self` (remote arguments are owned values).
//!
//! pb does this itself instead of delegating to `async-trait` so that the
//! generated code names only absolute paths (it compiles in a crate with
//! `#![no_implicit_prelude]`) and so that the signatures are exactly what the
//! proxy, the dispatch table and implementors share.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::{Block, FnArg, Lifetime, Pat, ReceiverKind, ReturnType, Signature, Type};

/// The lifetime the boxed future borrows `self` for.
fn lifetime() -> Lifetime {
    Lifetime::new("'__pb", Span::call_site())
}

fn output_type(sig: &Signature) -> Type {
    match &sig.output {
        ReturnType::Type(_, ty) => (**ty).clone(),
        ReturnType::Default => syn::parse_quote!(()),
    }
}

/// `async fn m(&self, ..) -> R` becomes
/// `fn m<'__pb>(&'__pb self, ..) -> Pin<Box<dyn Future<Output = R> + Send + '__pb>>`.
pub fn signature(sig: &Signature) -> Signature {
    let mut sig = sig.clone();
    if sig.asyncness.take().is_none() {
        return sig;
    }
    let lt = lifetime();
    sig.generics.params.insert(0, syn::parse_quote!(#lt));
    if let Some(FnArg::Receiver(r)) = sig.inputs.first_mut()
        && let ReceiverKind::Reference(_, l, _) = &mut r.kind
    {
        *l = Some(lt.clone());
    }
    let out = output_type(&sig);
    sig.output = syn::parse_quote! {
        -> ::core::pin::Pin<::std::boxed::Box<dyn ::core::future::Future<Output = #out> + ::core::marker::Send + #lt>>
    };
    sig
}

/// The signature and body of an `async fn` with a body, desugared to match
/// [`signature`]. Argument patterns other than plain names are bound inside
/// the future.
pub fn method(sig: &Signature, block: &Block) -> (Signature, TokenStream) {
    if sig.asyncness.is_none() {
        return (sig.clone(), quote!(#block));
    }
    let out = output_type(sig);
    let mut sig = signature(sig);
    let mut binds = Vec::new();
    for (i, arg) in sig.inputs.iter_mut().enumerate() {
        let FnArg::Typed(pt) = arg else { continue };
        let simple =
            matches!(&*pt.pat, Pat::Ident(p) if p.by_ref.is_none() && p.mutability.is_none() && p.subpat.is_none());
        if !simple {
            let fresh = format_ident!("__pb_arg{}", i);
            let pat = std::mem::replace(&mut *pt.pat, syn::parse_quote!(#fresh));
            binds.push(quote!(let #pat = #fresh;));
        }
    }
    let stmts = &block.stmts;
    let body = quote! {{
        ::std::boxed::Box::pin(async move {
            #(#binds)*
            #[allow(clippy::diverging_sub_expression)]
            let __pb_ret: #out = { #(#stmts)* };
            #[allow(unreachable_code)]
            __pb_ret
        })
    }};
    (sig, body)
}
