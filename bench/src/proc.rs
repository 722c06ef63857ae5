//! Child processes: servers and agents (clients). The bench runs a bench
//! binary (itself, or another revision's build) with the `server` or
//! `client` subcommand, and kills the child when done.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use crate::agent::{self, Answer};
use crate::driver::BoxError;

/// Start `exe <args>` with piped standard input and output.
fn spawn(exe: &Path, args: &[&str]) -> std::io::Result<(Child, ChildStdin, BufReader<ChildStdout>)> {
    let mut child = Command::new(exe)
        .args(args)
        .args(crate::malloc_default().then_some("--malloc-default"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let stdin = child.stdin.take().expect("piped stdin");
    let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    Ok((child, stdin, stdout))
}

/// A server child process, killed on drop. The child also exits by itself
/// when its standard input closes (if this process dies).
pub struct ServerProcess {
    child: Child,
    _stdin: ChildStdin,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl ServerProcess {
    /// Start `exe server <args>` and wait for the port it prints.
    pub fn spawn(exe: &Path, args: &[&str]) -> std::io::Result<ServerProcess> {
        let (mut child, stdin, mut stdout) = spawn(exe, &[&["server"], args].concat())?;
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let port: u16 = line.trim().parse().map_err(|_| {
            let _ = child.kill();
            std::io::Error::other(format!("server {args:?} printed {line:?} instead of a port"))
        })?;
        Ok(ServerProcess { child, _stdin: stdin, addr: SocketAddr::from(([127, 0, 0, 1], port)) })
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
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

/// A client child process (see `agent`); it exits when dropped (its
/// standard input closes), and is killed if it has not.
pub struct AgentProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl AgentProcess {
    /// Start `exe client <args>` and wait until it is connected.
    pub fn spawn(exe: &Path, args: &[&str]) -> Result<AgentProcess, BoxError> {
        let (child, stdin, stdout) = spawn(exe, &[&["client"], args].concat())?;
        let mut agent = AgentProcess { child, stdin: Some(stdin), stdout };
        match agent.answer()? {
            Answer::Ready { protocol } if protocol == agent::PROTOCOL => Ok(agent),
            Answer::Ready { protocol } => {
                Err(format!("{} speaks agent protocol {protocol}, this bench {}", exe.display(), agent::PROTOCOL)
                    .into())
            }
            other => Err(format!("agent {args:?} answered {other:?} instead of being ready").into()),
        }
    }

    /// Run one command and return its answer.
    pub fn ask(&mut self, command: &agent::Command) -> Result<Answer, BoxError> {
        let stdin = self.stdin.as_mut().expect("open until drop");
        serde_json::to_writer(&mut *stdin, command)?;
        stdin.write_all(b"\n")?;
        stdin.flush()?;
        match self.answer()? {
            Answer::Failed { error } => Err(error.into()),
            answer => Ok(answer),
        }
    }

    fn answer(&mut self) -> Result<Answer, BoxError> {
        let mut line = String::new();
        if self.stdout.read_line(&mut line)? == 0 {
            return Err("an agent exited".into());
        }
        Ok(serde_json::from_str(&line)?)
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
