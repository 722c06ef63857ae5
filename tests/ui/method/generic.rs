#[pb::remote_interface]
trait Users {
    async fn find<T: serde::Serialize>(&self, key: T) -> Result<u64, pb::Error>;
}

fn main() {}
