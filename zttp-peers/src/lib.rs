//! The real peers zttp's interop tests run against, found honestly.
//!
//! A test that talks to a peer nobody here wrote (curl, h2load, python `h11`,
//! chromium, ...) must not pass when that peer is missing. So:
//!
//! - at run time the test asks for its peer through [`require`] (or
//!   [`command`] / [`python_command`], which call it); a missing peer **fails**
//!   the test with a message naming the package to install;
//! - a developer who cannot install a peer opts out explicitly with the
//!   environment variable `ZTTP_SKIP_PEERS` (comma-separated peer names, see
//!   [`Peer::name`], or `all`) at build time. The test is then compiled with
//!   `#[ignore]`, so the harness reports it as **ignored**, never as passed.
//!   `cargo test -- --include-ignored` still runs (and fails) it.
//!   `.ci/run` installs every peer and never opts out.
//!
//! The opt-out travels as a `cfg` value, `zttp_skip_peer = "<name>"`, emitted by
//! [`emit_skip_cfg`] from the build script of each crate that has such tests:
//!
//! ```toml
//! # Cargo.toml of a crate with interop tests
//! build = "build.rs"
//! [build-dependencies]
//! zttp-peers.workspace = true
//! [dev-dependencies]
//! zttp-peers.workspace = true
//! ```
//!
//! ```rust,ignore
//! // build.rs
//! fn main() { zttp_peers::emit_skip_cfg(); }
//!
//! // a test
//! #[test]
//! #[cfg_attr(zttp_skip_peer = "curl", ignore = "ZTTP_SKIP_PEERS opts out of curl")]
//! fn curl_gets_hello() {
//!     let out = zttp_peers::command(zttp_peers::Peer::Curl).arg("-sS").output().unwrap();
//!     // ...
//! }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

/// The environment variable that opts tests out of named peers.
pub const SKIP_VAR: &str = "ZTTP_SKIP_PEERS";

/// A real peer program or python module that an interop test needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Peer {
    /// The `curl` command line client.
    Curl,
    /// nghttp2's `h2load` load generator.
    H2load,
    /// nghttp2's `nghttp` client.
    Nghttp,
    /// python3 itself (`$PYTHON`), for test clients written with the standard library.
    Python3,
    /// python3 with the `h11` package.
    PyH11,
    /// python3 with the `h2` package.
    PyH2,
    /// python3 with the `httpx` package (and `h2`, for its HTTP/2 support).
    PyHttpx,
    /// python3 with the `pyzmq` package.
    PyZmq,
    /// A chromium browser.
    Chromium,
    /// `chromedriver`, chromium's WebDriver server.
    Chromedriver,
}

enum Probe {
    /// A program run with an argument that makes it print and exit.
    Program(&'static str, &'static str),
    /// python modules that must import.
    Python(&'static str),
}

impl Peer {
    /// Every peer, in the order of the docs.
    pub const ALL: [Peer; 10] = [
        Peer::Curl,
        Peer::H2load,
        Peer::Nghttp,
        Peer::Python3,
        Peer::PyH11,
        Peer::PyH2,
        Peer::PyHttpx,
        Peer::PyZmq,
        Peer::Chromium,
        Peer::Chromedriver,
    ];

    /// The name used in `ZTTP_SKIP_PEERS` and in the `zttp_skip_peer` cfg.
    pub fn name(self) -> &'static str {
        match self {
            Peer::Curl => "curl",
            Peer::H2load => "h2load",
            Peer::Nghttp => "nghttp",
            Peer::Python3 => "python3",
            Peer::PyH11 => "h11",
            Peer::PyH2 => "h2",
            Peer::PyHttpx => "httpx",
            Peer::PyZmq => "pyzmq",
            Peer::Chromium => "chromium",
            Peer::Chromedriver => "chromedriver",
        }
    }

    /// Where the peer comes from, as the failure message tells it.
    pub fn package(self) -> &'static str {
        match self {
            Peer::Curl => "the Debian package `curl`",
            Peer::H2load | Peer::Nghttp => "the Debian package `nghttp2-client`",
            Peer::Python3 => "the Debian package `python3` (or set $PYTHON)",
            Peer::PyH11 => "the PyPI package `h11` (pip install -r requirements-test.txt)",
            Peer::PyH2 => "the PyPI package `h2` (pip install -r requirements-test.txt)",
            Peer::PyHttpx => {
                "the PyPI packages `httpx` and `h2` (pip install -r requirements-test.txt)"
            }
            Peer::PyZmq => "the PyPI package `pyzmq` (pip install -r requirements-test.txt)",
            Peer::Chromium => "the Debian package `chromium`",
            Peer::Chromedriver => "the Debian package `chromium-driver`",
        }
    }

    /// The program to run, for a program peer; python for a module peer.
    pub fn program(self) -> String {
        match self.probe() {
            Probe::Program(program, _) => program.to_owned(),
            Probe::Python(_) => python(),
        }
    }

    fn probe(self) -> Probe {
        match self {
            Peer::Curl => Probe::Program("curl", "--version"),
            Peer::H2load => Probe::Program("h2load", "--version"),
            Peer::Nghttp => Probe::Program("nghttp", "--version"),
            Peer::Python3 => Probe::Python("sys"),
            Peer::PyH11 => Probe::Python("h11"),
            Peer::PyH2 => Probe::Python("h2"),
            Peer::PyHttpx => Probe::Python("httpx, h2"),
            Peer::PyZmq => Probe::Python("zmq"),
            Peer::Chromium => Probe::Program("chromium", "--version"),
            Peer::Chromedriver => Probe::Program("chromedriver", "--version"),
        }
    }

    /// True when `ZTTP_SKIP_PEERS` (read now, at run time) names this peer.
    pub fn is_opted_out(self) -> bool {
        std::env::var(SKIP_VAR).is_ok_and(|list| names_peer(&list, self))
    }

    /// Whether the peer is installed and works (probed once per process).
    pub fn is_available(self) -> bool {
        static SEEN: OnceLock<Mutex<HashMap<Peer, bool>>> = OnceLock::new();
        let seen = SEEN.get_or_init(Default::default);
        if let Some(&known) = seen.lock().unwrap_or_else(|e| e.into_inner()).get(&self) {
            return known;
        }
        let found = match self.probe() {
            Probe::Program(program, arg) => runs(Command::new(program).arg(arg)),
            Probe::Python(modules) => {
                runs(Command::new(python()).args(["-c", &format!("import {modules}")]))
            }
        };
        seen.lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(self, found);
        found
    }
}

fn runs(command: &mut Command) -> bool {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

fn names_peer(list: &str, peer: Peer) -> bool {
    list.split(',')
        .map(str::trim)
        .any(|name| name == "all" || name == peer.name())
}

/// The python interpreter: `$PYTHON`, else `python3`.
pub fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Panics, naming the package to install, unless `peer` is available.
///
/// Call it first in every test that needs `peer`; pair the test with
/// `#[cfg_attr(zttp_skip_peer = "<name>", ignore = "...")]` so the explicit
/// opt-out reports it as ignored.
#[track_caller]
pub fn require(peer: Peer) {
    if !peer.is_available() {
        panic!("{}", missing_message(peer));
    }
}

fn missing_message(peer: Peer) -> String {
    format!(
        "real peer `{name}` is missing: install {package}; this test does not pass \
         without it (to have it reported as ignored instead, build the tests with \
         {SKIP_VAR}={name})",
        name = peer.name(),
        package = peer.package(),
    )
}

/// A command running `peer`'s program, after [`require`].
#[track_caller]
pub fn command(peer: Peer) -> Command {
    require(peer);
    Command::new(peer.program())
}

/// A python command, after [`require`] of python3 and of every module peer
/// in `modules`.
#[track_caller]
pub fn python_command(modules: &[Peer]) -> Command {
    require(Peer::Python3);
    for &peer in modules {
        require(peer);
    }
    Command::new(python())
}

/// For a build script: declares the `zttp_skip_peer` cfg and sets it for each
/// peer that `ZTTP_SKIP_PEERS` names, so the tests of those peers compile as
/// `#[ignore]`. Unknown names fail the build, so a typo cannot hide a test.
pub fn emit_skip_cfg() {
    let names: Vec<String> = Peer::ALL
        .iter()
        .map(|p| format!("\"{}\"", p.name()))
        .collect();
    println!("cargo::rerun-if-env-changed={SKIP_VAR}");
    println!(
        "cargo::rustc-check-cfg=cfg(zttp_skip_peer, values({}))",
        names.join(", ")
    );
    let Ok(list) = std::env::var(SKIP_VAR) else {
        return;
    };
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        assert!(
            name == "all" || Peer::ALL.iter().any(|p| p.name() == name),
            "{SKIP_VAR}: unknown peer `{name}`; known: all, {}",
            names.join(", ")
        );
    }
    for peer in Peer::ALL {
        if names_peer(&list, peer) {
            println!("cargo::rustc-cfg=zttp_skip_peer=\"{}\"", peer.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_list_names_peers_by_name_or_all() {
        assert!(names_peer("curl, h2load", Peer::H2load));
        assert!(names_peer("all", Peer::Chromium));
        assert!(!names_peer("curl", Peer::PyH11));
        assert!(!names_peer("", Peer::Curl));
    }

    #[test]
    fn every_peer_has_a_distinct_name() {
        let mut names: Vec<_> = Peer::ALL.iter().map(|p| p.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Peer::ALL.len());
    }

    #[test]
    fn missing_message_names_the_package_and_the_opt_out() {
        let text = missing_message(Peer::H2load);
        assert!(text.contains("`nghttp2-client`"), "{text}");
        assert!(text.contains("ZTTP_SKIP_PEERS=h2load"), "{text}");
        let text = missing_message(Peer::PyHttpx);
        assert!(text.contains("`httpx` and `h2`"), "{text}");
    }
}
