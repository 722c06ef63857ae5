//! cred login over PB's wire without Python: pb's client logging in to a
//! scripted Twisted portal that plays the server's side of a real
//! transcript (`login_md5_challenge`, recorded with a fixed challenge)
//! sends exactly the client's bytes Twisted sent.

#[path = "support/fixtures.rs"]
mod fixtures;

use std::time::Duration;

use pb_runtime::login::Credentials;
use pb_runtime::{Config, Error, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[pb_macros::remote_interface(crate = "pb_runtime")]
trait Avatar {
    async fn whoami(&self) -> Result<String, Error>;
}

/// The bytes of `["decref", n]` start so (a decref is sent when a proxy is
/// dropped, which can be later than Twisted drops its reference).
const DECREF: &[u8] = &[0x02, 0x80, 0x1d, 0x87];

/// Whether `bytes` are an answer or an error (`["answer", req, value]`):
/// what a server sends only once it has the call.
fn is_reply(bytes: &[u8]) -> bool {
    bytes.len() > 4 && bytes[..2] == [0x03, 0x80] && matches!(bytes[2], 0x1b | 0x1c) && bytes[3] == 0x87
}

/// Play the server's side of `case` on `io`: each answer is sent once the
/// client has sent what precedes it in the transcript (not counting the
/// decrefs just before it), other messages at once; returns every byte
/// the client sent. (pb's client sends its first call after the server's
/// version, Twisted's before.)
async fn play_server(case: &str, mut io: tokio::io::DuplexStream) -> Vec<u8> {
    let lines = fixtures::load(case);
    let mut received = Vec::new();
    let mut expected_len = 0;
    let mut owed_decrefs = 0;
    for line in &lines {
        if line.dir == "C>S" {
            if line.bytes.starts_with(DECREF) {
                owed_decrefs += line.bytes.len();
            } else {
                expected_len += owed_decrefs + line.bytes.len();
                owed_decrefs = 0;
            }
            continue;
        }
        let mut buf = [0u8; 256];
        while is_reply(&line.bytes) && received.len() < expected_len {
            let n = tokio::time::timeout(Duration::from_secs(5), io.read(&mut buf))
                .await
                .unwrap_or_else(|_| panic!("the client went silent before {}", line.at()))
                .unwrap();
            assert!(n > 0, "the client closed before {}", line.at());
            received.extend_from_slice(&buf[..n]);
        }
        io.write_all(&line.bytes).await.unwrap();
    }
    // The rest: what the client sends after the server's last message.
    let total: usize = lines.iter().filter(|l| l.dir == "C>S").map(|l| l.bytes.len()).sum();
    let mut buf = [0u8; 256];
    while received.len() < total {
        match tokio::time::timeout(Duration::from_millis(500), io.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => received.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    received
}

#[tokio::test]
async fn pb_logs_in_to_a_twisted_portal_with_twisteds_exact_bytes() {
    let (ours, theirs) = tokio::io::duplex(64 << 10);
    let server = tokio::spawn(play_server("login_md5_challenge", theirs));
    let conn =
        pb_runtime::twisted::connect_transport(Transport::from_io(ours, "scripted"), &Config::default()).await.unwrap();
    let avatar = conn.login::<dyn Avatar>(&Credentials::new("alice", "secret")).await.unwrap();
    assert_eq!(avatar.whoami().await.unwrap(), "alice");
    let sent = server.await.unwrap();
    let want: Vec<u8> =
        fixtures::load("login_md5_challenge").iter().filter(|l| l.dir == "C>S").flat_map(|l| l.bytes.clone()).collect();
    assert_eq!(sent, want, "pb's client bytes differ from Twisted's");
}
