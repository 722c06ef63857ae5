#[pb::remote_interface]
trait Users {
    #[pb(oneway)]
    async fn count(&self) -> Result<u64, pb::Error>;
}

fn main() {}
