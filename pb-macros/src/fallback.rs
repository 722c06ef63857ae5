//! What is emitted for an invalid trait: the errors, plus the trait and stub
//! items so that code using the interface does not drown the real mistakes in
//! follow-on errors (thiserror's `fallback.rs`).

use proc_macro2::TokenStream;
use quote::quote;
use syn::Path;

use crate::ast::Interface;
use crate::expand;

pub fn interface(krate: &Path, iface: &Interface, errors: syn::Error) -> TokenStream {
    let trait_item = expand::trait_item(krate, iface);
    let trait_ident = &iface.item.ident;
    let vis = &iface.item.vis;
    let proxy = expand::proxy_ident(iface);
    let name = &iface.name;
    let errors = errors.to_compile_error();
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
                _: #krate::__private::CallContext,
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
