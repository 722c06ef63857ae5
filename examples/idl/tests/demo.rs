//! The example runs in CI: schema-built and hand-written aurora peers interoperate.

#[tokio::test]
async fn schema_built_and_hand_written_peers_interoperate() {
    let log = pb_examples_idl::demo().await.expect("demo failed");
    assert_eq!(
        log,
        [
            "idl client -> hand-written server: get_user(1) = alice <alice@aurora.example>",
            "idl client -> hand-written server: model() = a cache of 3 users",
            "idl client -> hand-written server: add_user(dave) = 4",
            "idl client: the cache saw the change: user 4 is dave",
            "idl client -> hand-written server: remove_user(2), list_users() = 3 users",
            "idl client -> hand-written server: get_user(99) = not found",
            "idl client, local method: aurora user manager",
            "hand-written client -> idl server: add_user + get_user = erin #1",
            "hand-written client: the cache holds 1 user(s)",
            "hand-written client -> idl server: get_user(7) = not found",
        ]
    );
}

#[tokio::test]
async fn describe_finds_the_hand_written_server_identical() {
    let (s, c) = pb::Transport::memory_pair();
    let server = std::sync::Arc::new(pb_examples::aurora::Users::with_sample_users());
    let (server, client) = tokio::join!(
        pb::Connection::builder().root::<dyn pb_examples::aurora::UserManager>(server).establish(s),
        pb::Connection::builder().establish(c),
    );
    let (_server, client) = (server.unwrap(), client.unwrap());
    let users = client.root::<dyn pb_examples_idl::aurora::UserManager>().unwrap();
    let report = pb::describe::check(&users).await.unwrap();
    assert!(report.is_identical(), "{:?}", report.differences);
}

#[test]
fn generated_ids_match_the_hand_written_ones() {
    use pb::Interface;
    type Idl = dyn pb_examples_idl::aurora::UserManager;
    type Hand = dyn pb_examples::aurora::UserManager;
    assert_eq!(<Idl as Interface>::NAME, <Hand as Interface>::NAME);
    assert_eq!(<Idl as Interface>::ID, <Hand as Interface>::ID);
    let ids = |m: &[pb::MethodInfo]| {
        m.iter().map(|m| (m.name, m.id, m.replay, m.idempotent, m.signature)).collect::<Vec<_>>()
    };
    assert_eq!(ids(<Idl as Interface>::METHODS), ids(<Hand as Interface>::METHODS));
    assert_eq!(
        <pb_examples_idl::aurora::UserList as pb::Cacheable>::NAME,
        <pb_examples::aurora::UserList as pb::Cacheable>::NAME
    );
}
