//! Procedural macros of pb: `#[remote_interface]` on a trait and
//! `#[remote_impl]` on its implementations.
//!
//! Use them through the `pb` facade (`#[pb::remote_interface]`); the
//! generated code names only `::pb::__private::...` paths (override the root
//! with `crate = "..."`, as with serde).
//!
//! The crate is split by stage (after thiserror and serde_derive): `attr`
//! parses options, `ast` builds and validates the typed model, `expand`
//! writes the code, and `fallback` is what is emitted for invalid input.

use std::cell::RefCell;

use proc_macro::TokenStream;
use quote::ToTokens;

mod ast;
mod attr;
mod derive_describe;
mod derive_error;
mod desugar;
mod expand;
mod fallback;
mod ids;

/// Collects every error of one macro invocation (serde's `Ctxt`).
pub(crate) struct Ctxt {
    errors: RefCell<Vec<syn::Error>>,
}

impl Ctxt {
    fn new() -> Self {
        Ctxt { errors: RefCell::new(Vec::new()) }
    }
    pub(crate) fn error(&self, tokens: impl ToTokens, msg: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens.into_token_stream(), msg));
    }
    pub(crate) fn push(&self, e: syn::Error) {
        self.errors.borrow_mut().push(e);
    }
    pub(crate) fn count(&self) -> usize {
        self.errors.borrow().len()
    }
    fn into_error(self) -> Option<syn::Error> {
        self.errors.into_inner().into_iter().reduce(|mut a, b| {
            a.combine(b);
            a
        })
    }
}

/// Implement `pb::PbError` for an application error enum: finds the variant
/// holding `pb::Error` (`Pb(#[from] pb::Error)`), so that
/// `err.pb_error()` and `err.is_link_failure()` work on the enum itself.
#[proc_macro_derive(PbError)]
pub fn derive_pb_error(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    derive_error::expand(&input).unwrap_or_else(syn::Error::into_compile_error).into()
}

/// Implement `pb::Describe` for a record or enum: how it looks on the wire,
/// so tools such as the `pb` command can build and print its values from
/// JSON. Serde attributes that change the encoding (`rename` aside, which
/// postcard ignores; `skip`, `flatten`, `untagged`) are not followed.
/// `#[describe(crate = "path::to::pb")]` names a renamed `pb`.
#[proc_macro_derive(Describe, attributes(describe))]
pub fn derive_describe(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    derive_describe::expand(&input).unwrap_or_else(syn::Error::into_compile_error).into()
}

/// Turn a trait into a pb remote interface.
///
/// Generates, next to the trait (made `Send + Sync` and dyn-compatible):
/// a client proxy `<Trait>Proxy` implementing the trait, the server-side
/// dispatch table, stable ids for the interface and each method, and the
/// `pb::Interface` impl for `dyn Trait`. See the `pb` crate docs.
///
/// # Options
///
/// On the trait, `#[remote_interface(...)]` takes `name = "pkg.Iface"` and
/// `id = N` (the interface's wire identity), `crate = "path::to::pb"`, and
/// `rename_all = "camelCase"` (or `"PascalCase"`): each method's wire name
/// is its Rust name respelled as serde's `rename_all` does (`get_user` is
/// `getUser`), which is the name a Twisted peer calls (`remote_getUser`)
/// or is called with. It is exactly `#[pb(name = "getUser")]` written on
/// every method that has no `#[pb(name)]` of its own (an explicit name
/// wins): the method id, derived from the wire name, follows it, so pb
/// peers agree as long as both sides use the same trait, and a schema
/// gets the same wire names and ids by writing `@name("getUser")` on each
/// method. Adding `rename_all` to an interface that pb peers already use
/// changes its method ids; pin them with `#[pb(id = N)]` to keep them.
///
/// On a method, `#[pb(...)]` takes `local`, `replay`, `idempotent`,
/// `id = N`, `name = "..."` (see the `pb` crate docs) and `oneway`: the
/// proxy sends the call and returns once it is queued for writing, without
/// waiting for the method to run. The method must return `Result<(), E>`;
/// its `Err` is only ever a failure to send (`Disconnected`, arguments that
/// do not encode), never the method's own. To a Twisted server the call
/// goes with `answerRequired = 0` (Python's `pbanswer=False`) and no answer
/// comes back. To a pb server it goes as a call without a reply (a `Send`
/// frame): the method runs and nothing comes back, not even a failure (a
/// pb peer of protocol version 1, which has no such frame, is sent a call
/// whose reply the proxy drops unread). Oneway calls are not flow-controlled by their replies: past the
/// server's `max_in_flight` they are refused with `Busy`, unseen. A pb
/// server serves a oneway method like any other (a Twisted client may call
/// it with or without `pbanswer=False`). `oneway` excludes `replay` and
/// `idempotent` (nothing is awaited, so nothing is retried).
#[proc_macro_attribute]
pub fn remote_interface(args: TokenStream, input: TokenStream) -> TokenStream {
    let cx = Ctxt::new();
    let args = attr::TraitArgs::parse(&cx, args.into());
    let item = match syn::parse::<syn::ItemTrait>(input) {
        Ok(item) => item,
        Err(e) => {
            let mut e = e;
            e.combine(syn::Error::new(e.span(), "#[remote_interface] goes on a trait"));
            return e.to_compile_error().into();
        }
    };
    let iface = ast::Interface::parse(&cx, &args, item);
    let krate = expand::crate_path(args.krate.as_ref());
    match cx.into_error() {
        None => expand::interface(&krate, &iface).into(),
        Some(e) => fallback::interface(&krate, &iface, e).into(),
    }
}

/// Implement a remote interface with plain `async fn` bodies.
///
/// ```ignore
/// #[pb::remote_impl]
/// impl UserManager for Users {
///     async fn get_user(&self, id: u64) -> Result<User, UserError> { ... }
/// }
/// ```
#[proc_macro_attribute]
pub fn remote_impl(args: TokenStream, input: TokenStream) -> TokenStream {
    let cx = Ctxt::new();
    let krate = attr::impl_args(&cx, args.into());
    let _ = krate; // accepted for symmetry with #[remote_interface]; nothing here names the facade
    let mut item = match syn::parse::<syn::ItemImpl>(input) {
        Ok(item) => item,
        Err(e) => return e.to_compile_error().into(),
    };
    for impl_item in &mut item.items {
        if let syn::ImplItem::Fn(f) = impl_item {
            let (sig, body) = desugar::method(&f.sig, &f.block);
            f.sig = sig;
            f.block = syn::parse_quote!(#body);
        }
    }
    let mut out = quote::quote!(#item);
    if let Some(e) = cx.into_error() {
        out.extend(e.to_compile_error());
    }
    out.into()
}
