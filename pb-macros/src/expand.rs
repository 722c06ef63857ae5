//! Code generation for a validated remote interface.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, Path, TraitItem};

use crate::ast::{Interface, Method};
use crate::desugar;

/// The facade path: `::pb` unless `crate = "..."` overrides it.
pub fn crate_path(krate: Option<&Path>) -> Path {
    krate.cloned().unwrap_or_else(|| syn::parse_quote!(::pb))
}

/// Name of the generated proxy type.
pub fn proxy_ident(iface: &Interface) -> Ident {
    format_ident!("{}Proxy", iface.item.ident)
}

/// The trait itself: `Send + Sync + Any` supertraits, async methods boxed.
pub fn trait_item(iface: &Interface) -> TokenStream {
    let mut item = iface.item.clone();
    for trait_item in &mut item.items {
        if let TraitItem::Fn(f) = trait_item {
            match &f.default {
                Some(block) => {
                    let (sig, body) = desugar::method(&f.sig, block);
                    f.sig = sig;
                    f.default = Some(syn::parse_quote!(#body));
                }
                None => f.sig = desugar::signature(&f.sig),
            }
        }
    }
    item.supertraits.push(syn::parse_quote!(::core::any::Any));
    item.supertraits.push(syn::parse_quote!(::core::marker::Send));
    item.supertraits.push(syn::parse_quote!(::core::marker::Sync));
    if item.colon_token.is_none() {
        item.colon_token = Some(Default::default());
    }
    quote!(#item)
}

pub fn interface(krate: &Path, iface: &Interface) -> TokenStream {
    let trait_item = trait_item(iface);
    let proxy = proxy(krate, iface);
    let imp = interface_impl(krate, iface);
    let asserts = assertions(krate, iface);
    quote! {
        #trait_item
        #proxy
        #imp
        #asserts
    }
}

/// Compile-time checks, spanned at the user's types so errors point there.
fn assertions(krate: &Path, iface: &Interface) -> TokenStream {
    let mut checks = Vec::new();
    for m in &iface.methods {
        let mut method_checks = Vec::new();
        for a in &m.args {
            method_checks.push(wire_check(krate, &a.ty, a.by_ref.as_ref()));
        }
        method_checks.push(wire_check(krate, &m.ok, m.ok_ref.as_ref()));
        let err = &m.err;
        method_checks.push(quote_spanned!(err.span()=> #krate::__private::assert_error::<#err>();));
        let cfgs = &m.cfgs;
        checks.push(quote!(#(#cfgs)* { #(#method_checks)* }));
    }
    quote! {
        const _: () = {
            #[allow(dead_code)]
            fn __pb_assertions() {
                #(#checks)*
            }
        };
    }
}

fn wire_check(krate: &Path, ty: &syn::Type, by_ref: Option<&syn::Type>) -> TokenStream {
    match by_ref {
        Some(dyn_ty) => quote_spanned!(dyn_ty.span()=> #krate::__private::assert_interface::<#dyn_ty>();),
        None => quote_spanned!(ty.span()=> #krate::__private::assert_wire::<#ty>();),
    }
}

fn proxy(krate: &Path, iface: &Interface) -> TokenStream {
    let vis = &iface.item.vis;
    let trait_ident = &iface.item.ident;
    let proxy = proxy_ident(iface);
    let doc =
        format!("Client proxy of [`{trait_ident}`]: calls go to a remote object. Made by pb when a reference arrives.");
    let methods = iface.item.items.iter().filter_map(|item| match item {
        TraitItem::Fn(f) => {
            iface.methods.iter().find(|m| m.ident == f.sig.ident).map(|m| proxy_method(krate, m, &f.sig))
        }
        _ => None,
    });
    quote! {
        #[doc = #doc]
        #[derive(Clone)]
        #vis struct #proxy {
            handle: #krate::__private::ProxyHandle,
        }

        impl ::core::fmt::Debug for #proxy {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::fmt::Debug::fmt(&self.handle, f)
            }
        }

        impl #proxy {
            /// The handle this proxy calls through.
            #vis fn handle(&self) -> &#krate::__private::ProxyHandle {
                &self.handle
            }
        }

        impl #trait_ident for #proxy {
            #(#methods)*
        }
    }
}

fn proxy_method(krate: &Path, m: &Method, sig: &syn::Signature) -> TokenStream {
    let id = m.id;
    let err = &m.err;
    let args: Vec<_> = m
        .args
        .iter()
        .map(|a| {
            let ident = &a.ident;
            match a.by_ref {
                Some(_) => quote!(#krate::__private::SerArc(&#ident)),
                None => quote!(&#ident),
            }
        })
        .collect();
    let (ok_wire, map) = match &m.ok_ref {
        Some(dyn_ty) => (quote!(#krate::Ref<#dyn_ty>), quote!(__r.map(#krate::Ref::into_arc))),
        None => {
            let ok = &m.ok;
            (quote!(#ok), quote!(__r))
        }
    };
    if m.oneway {
        // Sent, not awaited: only a failure to send reaches the caller.
        let block: syn::Block = syn::parse_quote! {{
            match self.handle.send_oneway::<_, ::core::result::Result<(), #err>>(#id, &(#(#args,)*)) {
                ::core::result::Result::Ok(()) => ::core::result::Result::Ok(()),
                ::core::result::Result::Err(__e) => ::core::result::Result::Err(<#err as ::core::convert::From<#krate::Error>>::from(__e)),
            }
        }};
        let (sig, body) = desugar::method(sig, &block);
        let cfgs = &m.cfgs;
        return quote!(#(#cfgs)* #sig #body);
    }
    let call = if m.idempotent { quote!(call_idempotent) } else { quote!(call) };
    // A replayed method records how to obtain its result again: a
    // reference is retargeted after healing, a cache adopts a fresh copy.
    let track = match (&m.ok_ref, m.replay) {
        (Some(dyn_ty), true) => Some((
            quote!(let __v = #krate::Ref::into_arc(__r);),
            quote!(#krate::__private::track_replay::<#dyn_ty, _, #err>),
        )),
        (None, true) if m.ok_cache => {
            Some((quote!(let __v = __r;), quote!(#krate::__private::track_replay_cache::<_, _, #err>)))
        }
        (None, true) if m.ok_stream => {
            Some((quote!(let __v = __r;), quote!(#krate::__private::track_replay_stream::<_, _, #err>)))
        }
        _ => None,
    };
    let block: syn::Block = match track {
        Some((bind, tracker)) => {
            let name = &m.name;
            let clones = m.args.iter().map(|a| {
                let (ident, ty) = (&a.ident, &a.ty);
                quote!(<#ty as ::core::clone::Clone>::clone(&#ident))
            });
            syn::parse_quote! {{
                match self.handle.#call::<_, ::core::result::Result<#ok_wire, #err>>(#id, &(#(#args,)*)).await {
                    ::core::result::Result::Ok(::core::result::Result::Ok(__r)) => {
                        #bind
                        #tracker(&self.handle, &__v, #id, #name, (#(#clones,)*));
                        ::core::result::Result::Ok(__v)
                    }
                    ::core::result::Result::Ok(::core::result::Result::Err(__e)) => ::core::result::Result::Err(__e),
                    ::core::result::Result::Err(__e) => ::core::result::Result::Err(<#err as ::core::convert::From<#krate::Error>>::from(__e)),
                }
            }}
        }
        None => syn::parse_quote! {{
            match self.handle.#call::<_, ::core::result::Result<#ok_wire, #err>>(#id, &(#(#args,)*)).await {
                ::core::result::Result::Ok(__r) => #map,
                ::core::result::Result::Err(__e) => ::core::result::Result::Err(<#err as ::core::convert::From<#krate::Error>>::from(__e)),
            }
        }},
    };
    let (sig, body) = desugar::method(sig, &block);
    let cfgs = &m.cfgs;
    quote!(#(#cfgs)* #sig #body)
}

fn interface_impl(krate: &Path, iface: &Interface) -> TokenStream {
    let trait_ident = &iface.item.ident;
    let proxy = proxy_ident(iface);
    let name = &iface.name;
    let id = iface.id;
    let infos = iface.methods.iter().map(|m| {
        let (name, id, replay, idempotent, cfgs) = (&m.name, m.id, m.replay, m.idempotent, &m.cfgs);
        let signature = m.signature_hash();
        let params = m.args.iter().map(|a| {
            let p = a.ident.to_string();
            p.strip_prefix("r#").map_or(p.clone(), str::to_string)
        });
        quote!(#(#cfgs)* #krate::MethodInfo { name: #name, id: #id, replay: #replay, idempotent: #idempotent, signature: #signature, params: &[#(#params),*] })
    });
    let arms = iface.methods.iter().map(|m| dispatch_arm(krate, trait_ident, m));
    let types = iface.methods.iter().map(|m| method_types(krate, m));
    quote! {
        #krate::__private::inventory::submit! {
            #krate::__private::InterfaceEntry::of::<dyn #trait_ident>()
        }

        impl #krate::Interface for dyn #trait_ident {
            const NAME: &'static str = #name;
            const ID: u64 = #id;
            const METHODS: &'static [#krate::MethodInfo] = &[#(#infos),*];

            fn dispatch(
                __this: &::std::sync::Arc<Self>,
                __method: u32,
                __args: &[u8],
                __reply: #krate::__private::Reply,
            ) -> ::core::result::Result<#krate::__private::CallFuture, #krate::Error> {
                match __method {
                    #(#arms)*
                    _ => ::core::result::Result::Err(#krate::Error::UnknownMethod {
                        interface: ::std::string::ToString::to_string(#name),
                        method: __method,
                        name: ::core::option::Option::None,
                    }),
                }
            }

            fn proxy(handle: #krate::__private::ProxyHandle) -> ::std::sync::Arc<Self> {
                ::std::sync::Arc::new(#proxy { handle })
            }

            fn proxy_handle(this: &Self) -> ::core::option::Option<&#krate::__private::ProxyHandle> {
                let any: &dyn ::core::any::Any = this;
                any.downcast_ref::<#proxy>().map(|p| &p.handle)
            }

            fn method_types(
                __cx: &mut #krate::describe::types::TypeCx,
            ) -> ::std::vec::Vec<#krate::describe::types::MethodTypes> {
                #[allow(unused_imports)]
                use #krate::__private::{DescribeKnown as _, DescribeOpaque as _};
                let mut __v = ::std::vec::Vec::new();
                #(#types)*
                __v
            }
        }
    }
}

/// The `MethodTypes` of `m`, pushed onto `__v` (see `pb::describe::types`).
fn method_types(krate: &Path, m: &Method) -> TokenStream {
    let t = quote!(#krate::describe::types);
    let probe = |ty: &syn::Type| quote!((&#krate::__private::Probe::<#ty>::new()).pb_describe(__cx));
    let by_ref = |dyn_ty: &syn::Type| quote!(#t::TypeDesc::Ref(::std::string::ToString::to_string(<#dyn_ty as #krate::Interface>::NAME)));
    let args = m.args.iter().map(|a| {
        let name = a.ident.to_string();
        let ty = match &a.by_ref {
            Some(dyn_ty) => by_ref(dyn_ty),
            None => probe(&a.ty),
        };
        quote!(#t::FieldDesc { name: ::std::string::ToString::to_string(#name), ty: #ty })
    });
    let ok = match &m.ok_ref {
        Some(dyn_ty) => by_ref(dyn_ty),
        None => probe(&m.ok),
    };
    let err = probe(&m.err);
    let (id, replay, idempotent, cfgs) = (m.id, m.replay, m.idempotent, &m.cfgs);
    quote! {
        #(#cfgs)*
        __v.push(#t::MethodTypes {
            id: #id,
            args: ::std::vec![#(#args),*],
            ok: #ok,
            err: #err,
            replay: #replay,
            idempotent: #idempotent,
        });
    }
}

fn dispatch_arm(krate: &Path, trait_ident: &Ident, m: &Method) -> TokenStream {
    let id = m.id;
    let method = &m.ident;
    let err = &m.err;
    let idents: Vec<_> = m.args.iter().map(|a| &a.ident).collect();
    let wire_tys = m.args.iter().map(|a| match &a.by_ref {
        Some(dyn_ty) => quote!(#krate::Ref<#dyn_ty>),
        None => {
            let ty = &a.ty;
            quote!(#ty)
        }
    });
    let unwrap_refs = m.args.iter().filter(|a| a.by_ref.is_some()).map(|a| {
        let ident = &a.ident;
        quote!(let #ident = #krate::Ref::into_arc(#ident);)
    });
    // The error's text (its `Display`, if it has one) for peers that show
    // errors as text (a Twisted failure); computed only when asked for.
    let text = quote! {
        let __text = || match &__r {
            ::core::result::Result::Err(__e) => {
                #[allow(unused_imports)]
                use #krate::__private::{ErrorTextDisplay as _, ErrorTextNone as _};
                (&#krate::__private::ErrorText(__e)).pb_error_text()
            }
            ::core::result::Result::Ok(_) => ::core::option::Option::None,
        };
    };
    let encode = match &m.ok_ref {
        Some(dyn_ty) => quote! {
            #text
            let __r: ::core::result::Result<#krate::__private::SerArc<'_, #dyn_ty>, &#err> = match &__r {
                ::core::result::Result::Ok(v) => ::core::result::Result::Ok(#krate::__private::SerArc(v)),
                ::core::result::Result::Err(e) => ::core::result::Result::Err(e),
            };
            __reply.send_described(&__r, &__text)
        },
        None => quote! {
            #text
            __reply.send_described(&__r, &__text)
        },
    };
    let cfgs = &m.cfgs;
    quote! {
        #(#cfgs)*
        #id => {
            let (#(#idents,)*): (#(#wire_tys,)*) = #krate::__private::decode_args(__args)?;
            #(#unwrap_refs)*
            let __this = <::std::sync::Arc<Self> as ::core::clone::Clone>::clone(__this);
            ::core::result::Result::Ok(::std::boxed::Box::pin(async move {
                let __r = #trait_ident::#method(&*__this, #(#idents),*).await;
                #encode
            }))
        }
    }
}
