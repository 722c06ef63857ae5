#[derive(Debug, serde::Serialize, serde::Deserialize)]
enum UserError {
    NotFound,
}

#[pb::remote_interface]
trait Users {
    async fn count(&self) -> Result<u64, UserError>;
}

fn main() {}
