// Generated code must not depend on the prelude or on names in scope, and
// must not trigger warnings in a crate that denies them.
#![no_implicit_prelude]
#![deny(warnings)]

extern crate pb;
extern crate serde;
extern crate std;

#[derive(serde::Serialize, serde::Deserialize)]
pub struct Data {
    pub r#type: ::std::string::String,
}

#[pb::remote_interface(rename_all = "camelCase")]
pub trait Raw {
    async fn r#match(&self, r#type: u64, data: Data) -> ::core::result::Result<u64, pb::Error>;
    async fn by_ref(&self, other: ::std::sync::Arc<dyn Raw>) -> ::core::result::Result<::std::sync::Arc<dyn Raw>, pb::Error>;
    #[pb(oneway)]
    async fn notify(&self, r#type: u64, other: ::std::sync::Arc<dyn Raw>) -> ::core::result::Result<(), pb::Error>;
    #[cfg(any())]
    async fn compiled_out(&self) -> ::core::result::Result<(), pb::Error>;
    #[pb(local)]
    fn helper(&self) -> u8 {
        1
    }
}

fn main() {}
