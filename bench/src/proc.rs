//! Server processes: the bench binary runs itself with the `server`
//! subcommand, reads the port it prints, and kills it when done.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

/// A server child process, killed on drop. The child also exits by itself
/// when its standard input closes (if this process dies).
pub struct ServerProcess {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl ServerProcess {
    /// Start `pb-bench server <args>` and wait for the port it prints.
    pub fn spawn(args: &[&str]) -> std::io::Result<ServerProcess> {
        let exe = std::env::current_exe()?;
        let mut child = Command::new(exe)
            .arg("server")
            .args(args)
            .args(crate::malloc_default().then_some("--malloc-default"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let port: u16 = line.trim().parse().map_err(|_| {
            let _ = child.kill();
            std::io::Error::other(format!("server {args:?} printed {line:?} instead of a port"))
        })?;
        Ok(ServerProcess { child, addr: SocketAddr::from(([127, 0, 0, 1], port)) })
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// In a server child: print the port, then exit when the parent closes our
/// standard input (so no server outlives an interrupted run).
pub fn announce_and_watch_parent(port: u16) {
    println!("{port}");
    std::thread::spawn(|| {
        let mut sink = String::new();
        while std::io::stdin().read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
            sink.clear();
        }
        std::process::exit(0);
    });
}
