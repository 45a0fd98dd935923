//! What the example tests share: starting an example program and learning
//! its address from the first line it prints, `listening on ADDR`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A child process, killed and reaped when dropped.
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `command` with its stdout piped and waits, at most 20 s, for its
/// first line, `listening on ADDR`; returns the process and `ADDR`. Stdin and
/// stderr stay as `command` set them; `what` names the program in failures.
pub fn start_listening(command: &mut Command, what: &str) -> (Process, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let stdout = child.stdout.take().expect("stdout is piped");
    let process = Process(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("{what} printed no `listening on` line within 20 s"));
    let addr = line
        .strip_suffix('\n')
        .and_then(|line| line.strip_prefix("listening on "))
        .unwrap_or_else(|| panic!("{what} printed {line:?}, not `listening on ADDR`"))
        .to_owned();
    (process, addr)
}
