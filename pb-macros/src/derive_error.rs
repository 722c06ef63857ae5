//! `#[derive(PbError)]`: expose the `pb::Error` an application error enum
//! holds, so `err.is_link_failure()` works on the application's own type.

use proc_macro2::TokenStream;
use quote::quote;

/// Expand the derive, or explain what is missing.
pub(crate) fn expand(input: &syn::DeriveInput) -> syn::Result<TokenStream> {
    let syn::Data::Enum(data) = &input.data else {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "#[derive(PbError)] goes on an enum with a `pb::Error` variant",
        ));
    };
    let mut found = None;
    for v in &data.variants {
        let fields: Vec<&syn::Field> = v.fields.iter().collect();
        if let [field] = fields.as_slice()
            && is_pb_error(&field.ty)
        {
            if found.is_some() {
                return Err(syn::Error::new_spanned(v, "more than one variant holds `pb::Error`; keep one"));
            }
            found = Some((v, *field));
        }
    }
    let Some((variant, field)) = found else {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "no variant holds `pb::Error`: add one such as `#[error(transparent)] Pb(#[from] pb::Error)`",
        ));
    };
    let ident = &input.ident;
    let var = &variant.ident;
    let pattern = match &field.ident {
        Some(name) => quote!(#ident::#var { #name: __e }),
        None => quote!(#ident::#var(__e)),
    };
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    Ok(quote! {
        impl #impl_generics ::pb::PbError for #ident #ty_generics #where_clause {
            fn pb_error(&self) -> ::core::option::Option<&::pb::Error> {
                #[allow(unreachable_patterns)]
                match self {
                    #pattern => ::core::option::Option::Some(__e),
                    _ => ::core::option::Option::None,
                }
            }
        }
    })
}

/// `pb::Error` or `::pb::Error`.
fn is_pb_error(ty: &syn::Type) -> bool {
    let syn::Type::Path(p) = ty else { return false };
    if p.qself.is_some() {
        return false;
    }
    let segs: Vec<String> = p.path.segments.iter().map(|s| s.ident.to_string()).collect();
    segs.len() == 2 && segs[0] == "pb" && segs[1] == "Error"
}
