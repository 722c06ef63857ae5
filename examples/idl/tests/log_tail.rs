//! The streams example's `LogService` built from a schema
//! (`examples/schemas/log_tail.pbidl`) and the hand-written one in
//! `pb_examples::log_tail` stream to each other.

use std::sync::Arc;

use pb::{Interface, StreamExt};
use pb_examples::log_tail as hand;
use pb_examples_idl::log_tail as idl;

/// Serve `root` over an in-memory pair; return a proxy of type `C` to it.
async fn connect<S: ?Sized + Interface, C: ?Sized + Interface>(
    root: Arc<S>,
) -> (Arc<C>, pb::Connection, pb::Connection) {
    let (s, c) = pb::Transport::memory_pair();
    let (server, client) =
        tokio::join!(pb::Connection::builder().root(root).establish(s), pb::Connection::builder().establish(c));
    let (server, client) = (server.unwrap(), client.unwrap());
    (client.root::<C>().unwrap(), server, client)
}

#[test]
fn generated_ids_match_the_hand_written_ones() {
    type Idl = dyn idl::LogService;
    type Hand = dyn hand::LogService;
    assert_eq!(<Idl as Interface>::NAME, <Hand as Interface>::NAME);
    assert_eq!(<Idl as Interface>::ID, <Hand as Interface>::ID);
    let ids = |m: &[pb::MethodInfo]| {
        m.iter().map(|m| (m.name, m.id, m.replay, m.idempotent, m.signature)).collect::<Vec<_>>()
    };
    assert_eq!(ids(<Idl as Interface>::METHODS), ids(<Hand as Interface>::METHODS));
}

#[tokio::test]
async fn a_schema_built_client_tails_the_hand_written_log() {
    let log = Arc::new(hand::Log::default());
    for i in 0..3 {
        log.append(format!("line {i}"));
    }
    let root: Arc<dyn hand::LogService> = Arc::new(log.clone());
    let (service, _s, _c) = connect::<dyn hand::LogService, dyn idl::LogService>(root).await;
    assert!(pb::describe::check(&service).await.unwrap().is_identical());
    let mut tail: pb::Stream<idl::LogLine> = service.tail(1).await.unwrap();
    let mut next = async || tail.next().await.unwrap().unwrap();
    assert_eq!(next().await, idl::LogLine { seq: 1, text: "line 1".into() });
    assert_eq!(next().await, idl::LogLine { seq: 2, text: "line 2".into() });
    // The stream follows the log as it grows.
    log.append("line 3".into());
    assert_eq!(next().await, idl::LogLine { seq: 3, text: "line 3".into() });
}

/// A fixed log, served through the generated trait.
struct Fixed(Vec<String>);

#[pb::remote_impl]
impl idl::LogService for Fixed {
    async fn tail(&self, from: u64) -> Result<pb::Stream<idl::LogLine>, pb::Error> {
        let lines: Vec<idl::LogLine> = self
            .0
            .iter()
            .enumerate()
            .skip(from as usize)
            .map(|(i, t)| idl::LogLine { seq: i as u64, text: t.clone() })
            .collect();
        Ok(pb::Stream::iter(lines))
    }
}

#[tokio::test]
async fn a_hand_written_client_tails_a_schema_built_log() {
    let root: Arc<dyn idl::LogService> = Arc::new(Fixed(vec!["a".into(), "b".into(), "c".into()]));
    let (service, _s, _c) = connect::<dyn idl::LogService, dyn hand::LogService>(root).await;
    assert!(pb::describe::check(&service).await.unwrap().is_identical());
    let lines: Vec<hand::LogLine> = service.tail(1).await.unwrap().map(Result::unwrap).collect().await;
    assert_eq!(lines, [hand::LogLine { seq: 1, text: "b".into() }, hand::LogLine { seq: 2, text: "c".into() }]);
}
