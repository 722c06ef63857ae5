#[pb::remote_interface]
trait Users {
    #[pb(replay)]
    async fn count(&self) -> Result<u64, pb::Error>;
}

fn main() {}
