// The `crate = "..."` override, for crates that re-export pb.
mod reexport {
    pub use ::pb as inner;
}

#[pb::remote_interface(crate = "crate::reexport::inner", name = "aurora.Users", id = 42)]
pub trait Users {
    #[pb(id = 7, idempotent)]
    async fn count(&self) -> Result<u64, pb::Error>;
}

#[derive(pb::Describe)]
#[describe(crate = "crate::reexport::inner")]
pub struct Count {
    pub n: u64,
}

fn main() {
    use pb::Describe;
    let mut cx = pb::describe::types::TypeCx::default();
    assert_eq!(Count::describe(&mut cx), pb::describe::types::TypeDesc::Named(0));
    use pb::Interface;
    assert_eq!(<dyn Users>::ID, 42);
    assert_eq!(<dyn Users>::NAME, "aurora.Users");
    assert_eq!(<dyn Users>::METHODS[0].id, 7);
    assert!(<dyn Users>::METHODS[0].idempotent);
}
