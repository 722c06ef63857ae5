#[pb::remote_interface]
trait Users {
    #[pb(local)]
    fn label(&self) -> String;
}

fn main() {}
