//! Method signatures, normalized from the syn types of a trait.
//!
//! The ids themselves (FNV-1a of names and of these signatures) and the
//! reserved describe id come from `pb-ids`, shared with `pb-idl` and the
//! runtime; only the syn-dependent normalization lives here.

/// A method's signature, normalized so that two spellings of the same types
/// agree (`::std::string::String` and `String`, `pb::Cache<S>` and
/// `Cache<S>`): every path is reduced to its last segment and its type
/// arguments. `get_user(u64)->User|UserError`.
///
/// Types that postcard encodes identically are also written alike, so a
/// peer may pick either: `HashMap`, `BTreeMap` and `IndexMap` are `map`;
/// `HashSet`, `BTreeSet` and `IndexSet` are `set`; `Blob`, `Bytes` and
/// `ByteBuf` are `Vec<u8>`; `Box<T>` is `T`.
pub fn signature(name: &str, args: &[&syn::Type], ok: &syn::Type, err: &syn::Type) -> String {
    let args: Vec<String> = args.iter().map(|t| normalize(t)).collect();
    format!("{name}({})->{}|{}", args.join(","), normalize(ok), normalize(err))
}

fn normalize(ty: &syn::Type) -> String {
    use quote::ToTokens;
    use syn::{GenericArgument, PathArguments, Type, TypeParamBound};
    match ty {
        Type::Path(p) => {
            let Some(last) = p.path.segments.last() else { return String::new() };
            let mut out = match last.ident.to_string().as_str() {
                "HashMap" | "BTreeMap" | "IndexMap" => "map".to_string(),
                "HashSet" | "BTreeSet" | "IndexSet" => "set".to_string(),
                "Blob" | "Bytes" | "ByteBuf" => return "Vec<u8>".to_string(),
                other => other.to_string(),
            };
            if let PathArguments::AngleBracketed(a) = &last.arguments {
                if out == "Box"
                    && let [GenericArgument::Type(inner)] = a.args.iter().collect::<Vec<_>>()[..]
                {
                    return normalize(inner);
                }
                let inner: Vec<String> = a
                    .args
                    .iter()
                    .filter_map(|g| match g {
                        GenericArgument::Type(t) => Some(normalize(t)),
                        GenericArgument::Const(c) => Some(c.to_token_stream().to_string().replace(' ', "")),
                        _ => None,
                    })
                    .collect();
                if !inner.is_empty() {
                    out.push('<');
                    out.push_str(&inner.join(","));
                    out.push('>');
                }
            }
            out
        }
        Type::TraitObject(t) => {
            let traits: Vec<String> = t
                .bounds
                .iter()
                .filter_map(|b| match b {
                    TypeParamBound::Trait(tb) => tb.path.segments.last().map(|s| s.ident.to_string()),
                    _ => None,
                })
                .filter(|n| n != "Send" && n != "Sync")
                .collect();
            format!("dyn {}", traits.join("+"))
        }
        Type::Reference(r) => format!("&{}", normalize(&r.elem)),
        Type::Tuple(t) => format!("({})", t.elems.iter().map(normalize).collect::<Vec<_>>().join(",")),
        Type::Slice(s) => format!("[{}]", normalize(&s.elem)),
        Type::Array(a) => format!("[{};{}]", normalize(&a.elem), a.len.to_token_stream().to_string().replace(' ', "")),
        Type::Paren(p) => normalize(&p.elem),
        Type::Group(g) => normalize(&g.elem),
        other => other.to_token_stream().to_string().replace(' ', ""),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn signatures_ignore_how_paths_are_spelled() {
        let t = |s: &str| syn::parse_str::<syn::Type>(s).unwrap();
        let a = super::signature(
            "f",
            &[&t("::std::string::String"), &t("::std::sync::Arc<dyn crate::P + Send>")],
            &t("::std::vec::Vec<u8>"),
            &t("E"),
        );
        let b = super::signature("f", &[&t("String"), &t("Arc<dyn P>")], &t("Vec<u8>"), &t("my::E"));
        assert_eq!(a, b);
        assert_eq!(a, "f(String,Arc<dyn P>)->Vec<u8>|E");
        assert_ne!(a, super::signature("f", &[&t("String")], &t("Vec<u8>"), &t("E")));
    }

    #[test]
    fn types_postcard_encodes_alike_are_written_alike() {
        let t = |s: &str| syn::parse_str::<syn::Type>(s).unwrap();
        let sig = |arg: &str, ok: &str| super::signature("f", &[&t(arg)], &t(ok), &t("E"));
        assert_eq!(
            sig("std::collections::HashMap<String, Vec<u8>>", "HashSet<u32>"),
            sig("BTreeMap<String, pb::Blob>", "std::collections::BTreeSet<u32>")
        );
        assert_eq!(sig("HashMap<String, bytes::Bytes>", "Box<u64>"), "f(map<String,Vec<u8>>)->u64|E");
        // Other types stay apart.
        assert_ne!(sig("HashMap<String, u8>", "u64"), sig("HashMap<String, u16>", "u64"));
        assert_ne!(sig("HashSet<u8>", "u64"), sig("Vec<u8>", "u64"));
        assert_ne!(sig("Vec<u8>", "u64"), sig("[u8; 4]", "u64"));
    }
}
