#[pb::remote_interface]
trait Users {
    #[pb(retry)]
    async fn count(&self) -> Result<u64, pb::Error>;
}

fn main() {}
