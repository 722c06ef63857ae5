struct Handle(u32);

#[pb::remote_interface]
trait Users {
    async fn open(&self, handle: Handle) -> Result<u64, pb::Error>;
}

fn main() {}
