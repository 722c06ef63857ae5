#[pb::remote_interface]
trait Users {
    type Id;
    const LIMIT: usize;
    async fn count(&self) -> Result<u64, pb::Error>;
}

fn main() {}
