#[pb::remote_interface]
trait Users {
    #[pb(oneway, idempotent)]
    async fn touch(&self) -> Result<(), pb::Error>;
}

fn main() {}
