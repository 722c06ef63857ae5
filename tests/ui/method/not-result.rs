#[pb::remote_interface]
trait Users {
    async fn count(&self) -> u64;
    async fn reset(&self);
}

fn main() {}
