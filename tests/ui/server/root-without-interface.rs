use std::sync::Arc;

#[pb::remote_interface]
pub trait Hello {
    async fn hello(&self) -> Result<String, pb::Error>;
}

struct World;

#[pb::remote_impl]
impl Hello for World {
    async fn hello(&self) -> Result<String, pb::Error> {
        Ok("world".into())
    }
}

async fn serve() -> Result<pb::Server, pb::Error> {
    pb::Server::bind("127.0.0.1:0", Arc::new(World)).await
}

fn main() {
    let _ = serve();
}
