//! Real Twisted for the live tests: a Python that imports it, the
//! reference server (`pb-runtime/tests/twisted/server.py`), a portal with
//! anonymous logins and TLS (`tests/twisted/portal.py`) and the project's
//! own Twisted client (`tests/twisted/client.py`).
//!
//! The interpreter is `PB_PYTHON`, else `python3`, used only if it can
//! import Twisted; without it a test prints that it skipped and passes,
//! unless `PB_REQUIRE_TWISTED=1` makes that a failure. The TLS tests also
//! need pyOpenSSL in it (`pip install pyopenssl service_identity`, or a
//! `PYTHONPATH` holding them): without it they print that they skipped,
//! whatever `PB_REQUIRE_TWISTED` says. `PB_TWISTED_LOG=1` shows the Python
//! processes' logs.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// `server.py`, the reference Twisted PB server.
pub const SERVER_PY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../pb-runtime/tests/twisted/server.py");

/// `portal.py`, a Twisted portal (alice/secret and anonymous users), over
/// TCP or TLS, on a port of the test's choice.
pub const PORTAL_PY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/twisted/portal.py");

/// `client.py`, the project's Twisted PB client.
pub const CLIENT_PY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/twisted/client.py");

/// A Python that can import Twisted, or `None` (after saying the test
/// skipped) when there is none and `PB_REQUIRE_TWISTED` is not `1`.
///
/// # Panics
///
/// With `PB_REQUIRE_TWISTED=1` and no such Python.
pub fn python() -> Option<String> {
    let python = std::env::var("PB_PYTHON").unwrap_or_else(|_| "python3".into());
    let required = std::env::var("PB_REQUIRE_TWISTED").is_ok_and(|v| v == "1");
    let has_twisted = Command::new(&python)
        .args(["-c", "import twisted.spread.pb"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_twisted {
        assert!(!required, "PB_REQUIRE_TWISTED=1 but `{python}` cannot import Twisted (set PB_PYTHON)");
        eprintln!("skipped: `{python}` cannot import Twisted (set PB_PYTHON to a Python with Twisted)");
        return None;
    }
    Some(python)
}

fn log() -> Stdio {
    if std::env::var_os("PB_TWISTED_LOG").is_some() { Stdio::inherit() } else { Stdio::null() }
}

/// A running `server.py`: stopped (stdin closed, then killed) on drop.
pub struct ServerPy {
    child: Child,
    stdin: Option<ChildStdin>,
    /// The root object's port.
    pub root: u16,
    /// The portal's port.
    pub portal: u16,
}

impl Drop for ServerPy {
    fn drop(&mut self) {
        self.stdin.take(); // closing stdin stops the server; kill it anyway
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `server.py` under `python` and read its ports.
///
/// # Panics
///
/// When it does not start or print its ports.
pub fn server_py(python: &str) -> ServerPy {
    let mut child = Command::new(python)
        .arg(SERVER_PY)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        // Twisted logs the tracebacks it sends; PB_TWISTED_LOG=1 shows them.
        .stderr(log())
        .spawn()
        .expect("start server.py");
    let stdin = child.stdin.take();
    let stdout = child.stdout.take().expect("server.py's stdout");
    let mut server = ServerPy { child, stdin, root: 0, portal: 0 };
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read server.py's ports");
    let ports: Vec<u16> =
        line.strip_prefix("PORTS ").unwrap_or("").split_whitespace().filter_map(|p| p.parse().ok()).collect();
    let [root, portal] = ports[..] else { panic!("server.py printed {line:?}, not its ports") };
    (server.root, server.portal) = (root, portal);
    server
}

/// A running `portal.py`: stopped (stdin closed, then killed) on drop.
pub struct PortalPy {
    child: Child,
    stdin: Option<ChildStdin>,
    /// The portal's port.
    pub port: u16,
}

impl PortalPy {
    /// Stop it now (as a crash would: its clients see their connections close).
    pub fn stop(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        self.stdin.take();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PortalPy {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Start `portal.py` under `python` with `args` (`--port N`, `--tls CERT KEY`)
/// and read its port.
///
/// # Panics
///
/// When it does not start or print its port.
pub fn portal_py(python: &str, args: &[String]) -> PortalPy {
    let mut child = Command::new(python)
        .arg(PORTAL_PY)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(log())
        .spawn()
        .expect("start portal.py");
    let stdin = child.stdin.take();
    let stdout = child.stdout.take().expect("portal.py's stdout");
    let mut portal = PortalPy { child, stdin, port: 0 };
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read portal.py's port");
    portal.port = line
        .strip_prefix("PORT ")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("portal.py printed {line:?}, not its port"));
    portal
}

/// Whether `python` can import pyOpenSSL (Twisted's TLS); says that the
/// test skipped when it cannot.
pub fn has_pyopenssl(python: &str) -> bool {
    let ok = Command::new(python)
        .args(["-c", "import OpenSSL, twisted.internet.ssl"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipped: `{python}` cannot import pyOpenSSL (Twisted's TLS)");
    }
    ok
}

/// What a finished script printed.
#[derive(Debug)]
pub struct Ran {
    /// Whether it exited with status 0.
    pub success: bool,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

impl Ran {
    /// Its `FAIL` lines.
    pub fn failures(&self) -> Vec<&str> {
        self.stdout.lines().filter(|l| l.starts_with("FAIL")).collect()
    }
}

/// Run `client.py` with `args` under `python`, killing it after `limit`.
/// Blocks a thread of the blocking pool, not the runtime.
///
/// # Panics
///
/// When it cannot start.
pub async fn client_py(python: &str, args: &[String], limit: Duration) -> Ran {
    let mut child = Command::new(python)
        .arg(CLIENT_PY)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start client.py");
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let stdout = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let status = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    })
    .await
    .expect("wait for client.py");
    let ran = Ran {
        success: status.is_some_and(|s| s.success()),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    };
    if std::env::var_os("PB_TWISTED_LOG").is_some() || !ran.success {
        eprintln!("client.py {args:?}:\n{}\n{}", ran.stdout, ran.stderr);
    }
    assert!(status.is_some(), "client.py did not finish within {limit:?}");
    ran
}
