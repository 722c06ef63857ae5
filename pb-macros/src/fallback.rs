//! What is emitted for an invalid trait: the errors, plus the trait and stub
//! items so that code using the interface does not drown the real mistakes in
//! follow-on errors (thiserror's `fallback.rs`).

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Path, TraitItem};

use crate::ast::Interface;
use crate::expand;

pub fn interface(krate: &Path, iface: &Interface, errors: syn::Error) -> TokenStream {
    // Keep the trait dyn-compatible despite the mistakes, so the only errors
    // are the ones reported above: generic methods get `where Self: Sized`.
    let mut tolerant = Interface { item: iface.item.clone(), name: iface.name.clone(), id: 0, methods: Vec::new() };
    let mut has_assoc_type = false;
    for item in &mut tolerant.item.items {
        match item {
            TraitItem::Fn(f) if !f.sig.generics.params.is_empty() => {
                f.sig.generics.make_where_clause().predicates.push(syn::parse_quote!(Self: ::core::marker::Sized));
            }
            TraitItem::Type(_) => has_assoc_type = true,
            _ => {}
        }
    }
    let iface = &tolerant;
    let trait_item = expand::trait_item(iface);
    let trait_ident = &iface.item.ident;
    let vis = &iface.item.vis;
    let proxy = expand::proxy_ident(iface);
    let name = &iface.name;
    let errors = errors.to_compile_error();
    if has_assoc_type {
        // `dyn Trait` cannot be named without the associated type.
        return quote!(#errors #trait_item);
    }
    quote! {
        #errors
        #trait_item

        #[doc(hidden)]
        #vis struct #proxy;

        impl #krate::Interface for dyn #trait_ident {
            const NAME: &'static str = #name;
            const ID: u64 = 0;
            const METHODS: &'static [#krate::MethodInfo] = &[];
            fn dispatch(
                _: &::std::sync::Arc<Self>,
                _: u32,
                _: &[u8],
                _: #krate::__private::Reply,
            ) -> ::core::result::Result<#krate::__private::CallFuture, #krate::Error> {
                ::core::panic!("invalid remote interface")
            }
            fn proxy(_: #krate::__private::ProxyHandle) -> ::std::sync::Arc<Self> {
                ::core::panic!("invalid remote interface")
            }
            fn proxy_handle(_: &Self) -> ::core::option::Option<&#krate::__private::ProxyHandle> {
                ::core::option::Option::None
            }
        }
    }
}
