#[pb::remote_interface]
trait Users {
    async fn close(self) -> Result<(), pb::Error>;
    async fn clear(&mut self) -> Result<(), pb::Error>;
}

fn main() {}
