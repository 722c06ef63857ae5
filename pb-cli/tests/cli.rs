//! The `pb` command against servers started here: each subcommand, through
//! a relay and a login, and the errors and exit codes of the usual mistakes.

use std::process::Output;
use std::sync::Arc;

use pb_examples::aurora::{UserManager, Users};

const SCHEMA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/schemas/aurora.pbidl");

/// A server whose registry serves the aurora `UserManager`.
async fn server() -> pb::Server {
    let registry = pb::Registry::local().serve::<dyn UserManager>(Arc::new(Users::with_sample_users()));
    pb::Server::bind("127.0.0.1:0", registry).await.unwrap()
}

/// Run `pb ARGS` (the built binary) and return its output.
async fn pb(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_pb"));
    cmd.args(args).stdin(std::process::Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap()
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

/// (exit code, stdout, stderr)
async fn run(args: &[&str]) -> (i32, String, String) {
    let out = pb(args, &[]).await;
    (out.status.code().unwrap(), text(&out.stdout), text(&out.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ls_lists_the_root_and_the_registry() {
    let server = server().await;
    let addr = server.local_addr().to_string();
    let (code, out, err) = run(&["ls", &addr]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("root  pb.Registry  0x"), "{out}");
    assert!(out.contains("aurora.UserManager  0x"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ls_and_call_work_through_a_relay() {
    let server = server().await;
    let upstream = pb::Client::connect(server.local_addr()).await.unwrap();
    let relay = pb::Server::bind("127.0.0.1:0", pb::Registry::forwarding(upstream.registry().unwrap())).await.unwrap();
    let addr = relay.local_addr().to_string();
    let (code, out, err) = run(&["ls", &addr]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("aurora.UserManager") && out.contains("(forwarded)"), "{out}");
    let (code, out, err) = run(&["call", &addr, "aurora.UserManager.get_user", "[2]", "--schema", SCHEMA]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), r#"{"email":"bob@aurora.example","id":2,"name":"bob"}"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_prints_pbidl_with_types_from_a_schema() {
    let server = server().await;
    let addr = server.local_addr().to_string();
    let (code, out, err) = run(&["describe", &addr, "aurora.UserManager"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("package aurora;\n\nrecord User { id: u64, name: string, email: string }\n"), "{out}");
    assert!(out.contains("error UserError { NotFound(u64) }"), "{out}");
    assert!(
        out.contains("model UserList { state { users: map<u64, User> } events { Added(User), Removed(u64) } }"),
        "{out}"
    );
    assert!(out.contains(") get_user(id: u64) -> User throws UserError;"), "{out}");
    assert!(out.contains("    @replay @id("), "{out}");
    // What the peer describes is a valid schema.
    assert!(!pb_idl::check_str("peer.pbidl", &out).has_errors(), "{out}");
    let (code, out, err) = run(&["describe", &addr, "aurora.UserManager", "--schema", SCHEMA]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("package aurora;\n\ninterface UserManager {   // id 0x"), "{out}");
    assert!(out.contains("    get_user(id: u64) -> aurora.User throws aurora.UserError;"), "{out}");
    assert!(out.contains("    add_user(name: string, email: string) -> u64 throws aurora.UserError;"), "{out}");
    assert!(out.contains("    remove_user(id: u64) throws aurora.UserError;"), "{out}");
    assert!(out.contains("    @replay model() -> aurora.UserList throws aurora.UserError;"), "{out}");
    assert!(out.contains("    @local describe() -> string;"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_sends_json_arguments_and_prints_the_result() {
    let server = server().await;
    let addr = server.local_addr().to_string();
    let call = |method: &'static str, args: &'static str| {
        let addr = addr.clone();
        async move { run(&["call", &addr, method, args, "--schema", SCHEMA]).await }
    };
    let (code, out, err) = call("aurora.UserManager.add_user", r#"{"name": "dave", "email": "d@x"}"#).await;
    assert_eq!((code, out.trim()), (0, "4"), "{err}");
    let (code, out, err) = call("aurora.UserManager.add_user", r#"["erin", "e@x"]"#).await;
    assert_eq!((code, out.trim()), (0, "5"), "{err}");
    let (code, out, err) = call("aurora.UserManager.get_user", "4").await;
    assert_eq!((code, out.trim()), (0, r#"{"email":"d@x","id":4,"name":"dave"}"#), "{err}");
    let (code, out, err) = call("aurora.UserManager.remove_user", "[4]").await;
    assert_eq!((code, out.trim()), (0, "null"), "{err}");
    let (code, out, err) = call("aurora.UserManager.list_users", "[]").await;
    assert_eq!(code, 0, "{err}");
    let users: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(users.as_array().unwrap().len(), 4, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_needs_no_schema_when_the_peer_describes_its_types() {
    let server = server().await;
    let addr = server.local_addr().to_string();
    let (code, out, err) = run(&["call", &addr, "aurora.UserManager.get_user", "3"]).await;
    assert_eq!((code, out.trim()), (0, r#"{"email":"carol@aurora.example","id":3,"name":"carol"}"#), "{err}");
    let (code, _, err) = run(&["call", &addr, "aurora.UserManager.get_user", "[7]"]).await;
    assert_eq!((code, err.trim()), (1, r#"pb: {"error":{"NotFound":7}}"#));
    let (code, out, err) = run(&["call", &addr, "aurora.UserManager.model", "[]"]).await;
    assert_eq!(code, 2, "{out}");
    assert!(err.contains("returns a cached model (`aurora.UserList`)"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_errors_exit_1_with_the_error_as_json() {
    let server = server().await;
    let addr = server.local_addr().to_string();
    let (code, out, err) = run(&["call", &addr, "aurora.UserManager.get_user", "[99]", "--schema", SCHEMA]).await;
    assert_eq!(code, 1, "{out}");
    assert_eq!(err.trim(), r#"pb: {"error":{"NotFound":99}}"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mistakes_exit_2_with_clear_messages() {
    let server = server().await;
    let addr = server.local_addr().to_string();
    let cases: [(&[&str], &str); 7] = [
        (
            &["call", &addr, "aurora.Nope.get_user", "[1]", "--schema", SCHEMA],
            "the server serves no interface `aurora.Nope` (it serves: pb.Registry, aurora.UserManager)",
        ),
        (
            &["call", &addr, "aurora.UserManager.fly", "[]", "--schema", SCHEMA],
            "interface `aurora.UserManager` has no method `fly` (it has: get_user, add_user, remove_user, list_users, model)",
        ),
        (&["call", &addr, "aurora.UserManager.get_user", "[1", "--schema", SCHEMA], "the arguments are not valid JSON"),
        (
            &["call", &addr, "aurora.UserManager.get_user", r#"["one"]"#, "--schema", SCHEMA],
            "argument `id`: at $: expected an integer (u64), found \"one\"",
        ),
        (
            &["call", &addr, "aurora.UserManager.add_user", r#"["x"]"#, "--schema", SCHEMA],
            "`aurora.UserManager.add_user(name: …, email: …)` takes 2 argument(s), 1 given",
        ),
        (
            &["call", &addr, "pb.Registry.list", "[]"],
            "`pb.Registry.list` cannot be called from its description (`alloc::vec::Vec<pb_runtime::services::registry::Listing>` does not describe itself",
        ),
        (&["describe", &addr, "Nope"], "the server serves no interface `Nope`"),
    ];
    for (args, message) in cases {
        let (code, out, err) = run(args).await;
        assert_eq!(code, 2, "{args:?}: {out} {err}");
        assert!(err.contains(message), "{args:?}: {err}");
    }
    let (code, _, err) = run(&["frobnicate"]).await;
    assert_eq!(code, 2, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_exits_3() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    let (code, _, err) = run(&["ls", &addr]).await;
    assert_eq!(code, 3, "{err}");
    assert!(err.contains(&addr), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_reaches_the_avatar() {
    let portal = pb::login::Portal::new(|c: pb::login::Credentials| async move {
        if c.password != "secret" {
            return Err(pb::Error::Unauthorized);
        }
        let avatar = pb::Registry::local().serve::<dyn UserManager>(Arc::new(Users::with_sample_users()));
        Ok(pb::AnyRef::new::<dyn pb::Locator>(Arc::new(avatar)))
    });
    let server = pb::Server::bind("127.0.0.1:0", portal).await.unwrap();
    let addr = server.local_addr().to_string();
    let out = pb(&["--login", "alice", "ls", &addr], &[("PB_PASSWORD", "secret")]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("aurora.UserManager"));
    let out = pb(&["--login", "alice", "ls", &addr], &[("PB_PASSWORD", "guess")]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("login:"), "{}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_documents_the_exit_codes() {
    let (code, out, _) = run(&["--help"]).await;
    assert_eq!(code, 0);
    assert!(out.contains("3  connection error"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_ca_file() {
    let authority = pb_tests::pki::Authority::new("pb-cli test CA");
    let (chain, key) = authority.server();
    let config = pb::tls::server_config(chain, key, None).unwrap();
    let listener = pb::tls::TlsListener::bind("127.0.0.1:0", config).await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let registry = pb::Registry::local().serve::<dyn UserManager>(Arc::new(Users::with_sample_users()));
    let _server = pb::Server::serve(listener, registry, pb::Config::default());
    let ca = std::env::temp_dir().join(format!("pb-cli-ca-{}.pem", std::process::id()));
    std::fs::write(&ca, authority.pem()).unwrap();
    let ca = ca.to_str().unwrap();
    let (code, out, err) = run(&["--tls", "--ca", ca, "call", &addr, "aurora.UserManager.get_user", "1"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("alice"), "{out}");
    let (code, _, err) = run(&["--tls", "call", &addr, "aurora.UserManager.get_user", "1"]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--tls needs --ca"), "{err}");
    let (code, _, err) = run(&["ls", &addr, "--timeout", "2"]).await;
    assert_eq!(code, 3, "plain TCP to a TLS server: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_prints_the_state_then_each_change() {
    use std::io::BufRead;
    let users = Arc::new(Users::with_sample_users());
    let registry = pb::Registry::local().serve::<dyn UserManager>(users.clone());
    let watched = pb::Server::bind("127.0.0.1:0", registry).await.unwrap();
    let addr = watched.local_addr().to_string();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pb"))
        .args(["watch", &addr, "aurora.UserManager.model"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let (first, mut lines) = tokio::task::spawn_blocking(move || (lines.next(), lines)).await.unwrap();
    let first: serde_json::Value = serde_json::from_str(&first.expect("a first line").unwrap()).unwrap();
    assert_eq!(first["model"], "aurora.UserList");
    assert_eq!(first["state"]["users"]["2"]["name"], "bob");

    // The watcher is attached once it has printed the state; changes follow.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let id = users.add_user("dave".into(), "d@x".into()).await.unwrap();
    users.remove_user(1).await.unwrap();
    let (changes, _) = tokio::task::spawn_blocking(move || {
        let changes: Vec<String> = (0..2).map(|_| lines.next().expect("a line").unwrap()).collect();
        (changes, lines)
    })
    .await
    .unwrap();
    assert_eq!(changes[0], format!(r#"{{"event":{{"Added":{{"email":"d@x","id":{id},"name":"dave"}}}},"seq":1}}"#));
    assert_eq!(changes[1], r#"{"event":{"Removed":1},"seq":2}"#);

    drop(watched); // closes the watcher's connection: it exits with 3
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap();
    assert_eq!(status.code(), Some(3));

    let server = server().await;
    let (code, _, err) = run(&["watch", &server.local_addr().to_string(), "aurora.UserManager.get_user", "1"]).await;
    assert_eq!(code, 2);
    assert!(err.contains("returns aurora.User, not a cached model: use `pb call`"), "{err}");
}
