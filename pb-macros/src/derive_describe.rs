//! `#[derive(Describe)]`: a record or enum says how it looks on the wire,
//! so tools can encode and decode it without the Rust type.

use proc_macro2::TokenStream;
use quote::quote;

/// Expand the derive.
pub(crate) fn expand(input: &syn::DeriveInput) -> syn::Result<TokenStream> {
    let ident = &input.ident;
    let name = ident.to_string();
    let krate = crate_path(input)?;
    let t = quote!(#krate::describe::types);
    if let syn::Data::Union(u) = &input.data {
        return Err(syn::Error::new_spanned(u.union_token, "#[derive(Describe)] does not support unions"));
    }
    // Through the probe: a field whose type does not describe itself is
    // opaque rather than a compile error (types from other crates).
    let describe = |ty: &syn::Type| quote!((&#krate::__private::Probe::<#ty>::new()).pb_describe(__cx));
    let fields = |fields: &syn::Fields| -> TokenStream {
        match fields {
            syn::Fields::Named(named) => {
                let items = named.named.iter().map(|f| {
                    let fname = f.ident.as_ref().map(ToString::to_string).unwrap_or_default();
                    let d = describe(&f.ty);
                    quote!(#t::FieldDesc { name: ::std::string::ToString::to_string(#fname), ty: #d })
                });
                quote!(::std::vec![#(#items),*])
            }
            syn::Fields::Unnamed(unnamed) => {
                let items = unnamed.unnamed.iter().map(|f| describe(&f.ty));
                quote!(::std::vec![#(#items),*])
            }
            syn::Fields::Unit => quote!(::std::vec::Vec::new()),
        }
    };
    let shape = match &input.data {
        syn::Data::Struct(s) => {
            let f = fields(&s.fields);
            match &s.fields {
                syn::Fields::Unnamed(_) => quote!(#t::Shape::Tuple(#f)),
                _ => quote!(#t::Shape::Record(#f)),
            }
        }
        syn::Data::Enum(e) => {
            let variants = e.variants.iter().map(|v| {
                let vname = v.ident.to_string();
                let f = fields(&v.fields);
                match &v.fields {
                    syn::Fields::Named(_) => {
                        quote!(#t::VariantDesc::Struct(::std::string::ToString::to_string(#vname), #f))
                    }
                    syn::Fields::Unnamed(_) => {
                        quote!(#t::VariantDesc::Tuple(::std::string::ToString::to_string(#vname), #f))
                    }
                    syn::Fields::Unit => quote!(#t::VariantDesc::Unit(::std::string::ToString::to_string(#vname))),
                }
            });
            quote!(#t::Shape::Enum(::std::vec![#(#variants),*]))
        }
        syn::Data::Union(_) => unreachable!("rejected above"),
    };
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    Ok(quote! {
        impl #impl_generics #t::Describe for #ident #ty_generics #where_clause {
            fn describe(__cx: &mut #t::TypeCx) -> #t::TypeDesc {
                #[allow(unused_imports)]
                use #krate::__private::{DescribeKnown as _, DescribeOpaque as _};
                __cx.named::<Self>(#name, |__cx| #shape)
            }
        }
    })
}

/// The path of the `pb` crate: `::pb`, or `#[describe(crate = "path")]`.
fn crate_path(input: &syn::DeriveInput) -> syn::Result<syn::Path> {
    let mut path: syn::Path = syn::parse_quote!(::pb);
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("describe")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("crate") {
                let lit: syn::LitStr = meta.value()?.parse()?;
                path = lit.parse()?;
                Ok(())
            } else {
                Err(meta.error("expected `crate = \"path::to::pb\"`"))
            }
        })?;
    }
    Ok(path)
}
