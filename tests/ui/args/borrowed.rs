#[pb::remote_interface]
trait Users {
    async fn find(&self, name: &str) -> Result<u64, pb::Error>;
}

fn main() {}
