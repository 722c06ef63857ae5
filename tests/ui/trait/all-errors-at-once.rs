#[pb::remote_interface]
trait Users {
    fn count(&self) -> Result<u64, pb::Error>;
    async fn find<T>(&self, key: T) -> Result<u64, pb::Error>;
    async fn close(self) -> Result<(), pb::Error>;
    #[pb(fast)]
    async fn get(&self, id: u64) -> u64;
}

fn main() {}
