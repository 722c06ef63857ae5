#[pb::remote_interface(rename_all = "kebab-case")]
trait Users {
    async fn get_user(&self) -> Result<u64, pb::Error>;
}

fn main() {}
