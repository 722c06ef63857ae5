#[pb::remote_interface]
trait Users {
    fn count(&self) -> Result<u64, pb::Error>;
}

fn main() {}
