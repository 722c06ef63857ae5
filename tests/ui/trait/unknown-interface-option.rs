#[pb::remote_interface(version = 2)]
trait Users {
    async fn count(&self) -> Result<u64, pb::Error>;
}

fn main() {}
