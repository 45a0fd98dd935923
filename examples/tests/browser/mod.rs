//! Headless Chromium under chromedriver over WebDriver (fantoccini), shared
//! by the browser tests. Needs the Debian packages `chromium` and
//! `chromium-driver` (`.ci/run` installs them); without them a test fails
//! naming the package (zttp-peers).
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use serde_json::json;
use zttp_peers::Peer;

pub use crate::support::Process;

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

/// Starts a server program with `args` and waits (at most 20 s) for its
/// `listening on ADDR` line; the process is killed when dropped.
pub fn start_server(program: &str, args: &[&str]) -> (Process, std::net::SocketAddr) {
    let (process, addr) =
        crate::support::start_listening(Command::new(program).args(args), program);
    let addr = addr
        .parse()
        .unwrap_or_else(|_| panic!("{program}: `listening on ADDR`, not {addr:?}"));
    (process, addr)
}

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!("{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The absolute path of an installed peer's program (chromedriver wants one).
pub fn installed(peer: Peer) -> PathBuf {
    zttp_peers::require(peer);
    let program = peer.program();
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join(&program))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| PathBuf::from(program))
}

/// chromedriver on a free loopback port, once it accepts connections.
pub fn chromedriver(program: &Path) -> (Process, u16) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let process = Process(
        Command::new(program)
            .args([&format!("--port={port}"), "--allowed-ips=127.0.0.1"])
            .stdout(Stdio::null())
            .spawn()
            .expect("start chromedriver"),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "chromedriver listens within 20 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (process, port)
}

pub async fn browser(port: u16, chromium: &Path, profile: &Path) -> Client {
    browser_with(port, chromium, profile, &[]).await
}

/// [`browser`] with more Chromium command-line flags.
pub async fn browser_with(port: u16, chromium: &Path, profile: &Path, extra: &[&str]) -> Client {
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-quic",
                "--window-size=720,720",
                format!("--user-data-dir={}", profile.display()),
            ],
        },
    });
    let mut capabilities = capabilities;
    let args = capabilities["goog:chromeOptions"]["args"]
        .as_array_mut()
        .unwrap();
    args.extend(extra.iter().map(|flag| json!(flag)));
    let serde_json::Value::Object(capabilities) = capabilities else {
        unreachable!()
    };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a WebDriver session with headless Chromium")
}
