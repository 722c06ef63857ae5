#[pb::remote_interface]
pub trait Reserved {
    #[pb(id = 4294967295)]
    async fn describe_me(&self) -> Result<u64, pb::Error>;
}

fn main() {}
