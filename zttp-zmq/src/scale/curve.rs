//! CURVE on the gateway ⇄ worker link: key pairs, and a ZAP handler that admits only the
//! workers whose public keys are on an allow-list.
//!
//! With CURVE the link is encrypted and each side proves it holds its secret key. A worker
//! that is not on the list is dropped during the ZeroMQ handshake: the gateway never sees a
//! message from it, so it can neither take requests nor read them.

use std::collections::HashSet;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::gateway::{Shared, StatsCells};

/// A CURVE key pair, held as Z85 text (40 characters each), as ZeroMQ tools print them.
#[derive(Clone, PartialEq, Eq)]
pub struct CurveKeyPair {
    public: String,
    secret: String,
}

impl std::fmt::Debug for CurveKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CurveKeyPair")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

/// The error for a libzmq built without CURVE, saying how to get one.
pub(crate) fn unsupported() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "this libzmq has no CURVE support; link one built with libsodium \
         (zttp's .cargo/config.toml links the system libzmq: apt-get install libzmq3-dev)",
    )
}

/// Fails unless the linked libzmq supports CURVE.
pub(crate) fn require_curve() -> io::Result<()> {
    if zmq::has("curve") == Some(true) {
        Ok(())
    } else {
        Err(unsupported())
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// Checks that `key` is a Z85-encoded 32-byte key.
fn check_key(key: &str) -> io::Result<()> {
    match zmq::z85_decode(key) {
        Ok(raw) if raw.len() == 32 => Ok(()),
        _ => Err(invalid("a CURVE key is 40 characters of Z85 text")),
    }
}

impl CurveKeyPair {
    /// Generates a new key pair.
    pub fn generate() -> io::Result<Self> {
        require_curve()?;
        let pair = zmq::CurveKeyPair::new()?;
        let z85 = |k: &[u8]| zmq::z85_encode(k).map_err(|_| invalid("z85 encoding failed"));
        Ok(CurveKeyPair {
            public: z85(&pair.public_key)?,
            secret: z85(&pair.secret_key)?,
        })
    }

    /// A key pair from its two Z85 keys.
    pub fn from_z85(public: &str, secret: &str) -> io::Result<Self> {
        check_key(public)?;
        check_key(secret)?;
        Ok(CurveKeyPair {
            public: public.to_string(),
            secret: secret.to_string(),
        })
    }

    /// The public key (Z85): give it to the other side.
    pub fn public(&self) -> &str {
        &self.public
    }

    /// The secret key (Z85): keep it private.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// Reads a key file written by [`save`](Self::save): lines `public = KEY` and
    /// `secret = KEY`; lines starting with `#` are comments.
    pub fn load(path: impl AsRef<Path>) -> io::Result<Self> {
        let text = std::fs::read_to_string(path)?;
        let (mut public, mut secret) = (None, None);
        for line in text.lines() {
            // Z85 keys may contain `#` and `=`: only whole lines are comments, and the
            // first `=` separates the name.
            let line = line.trim();
            if line.starts_with('#') {
                continue;
            }
            if let Some((k, v)) = line.split_once('=') {
                match k.trim() {
                    "public" => public = Some(v.trim().to_string()),
                    "secret" => secret = Some(v.trim().to_string()),
                    _ => {}
                }
            }
        }
        match (public, secret) {
            (Some(p), Some(s)) => Self::from_z85(&p, &s),
            _ => Err(invalid(
                "a key file needs `public = ...` and `secret = ...` lines",
            )),
        }
    }

    /// Writes the key pair to a new file readable by its owner only (mode 0600). Fails if
    /// the file exists.
    pub fn save(&self, path: impl AsRef<Path>) -> io::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)?;
        writeln!(
            f,
            "# zttp-zmq CURVE key pair (Z85). Keep the secret key private."
        )?;
        writeln!(f, "public = {}", self.public)?;
        writeln!(f, "secret = {}", self.secret)?;
        Ok(())
    }
}

/// CURVE for a [`Gateway`](crate::Gateway): its key pair and the public keys of the workers
/// it admits.
#[derive(Debug, Clone)]
pub struct GatewayCurve {
    keys: CurveKeyPair,
    allowed: HashSet<Vec<u8>>,
}

impl GatewayCurve {
    /// The gateway's key pair; no worker is admitted until [`allow`](Self::allow)ed.
    pub fn new(keys: CurveKeyPair) -> Self {
        GatewayCurve {
            keys,
            allowed: HashSet::new(),
        }
    }

    /// Admits the worker with this public key (Z85).
    pub fn allow(mut self, worker_public: &str) -> io::Result<Self> {
        check_key(worker_public)?;
        let raw = zmq::z85_decode(worker_public).map_err(|_| invalid("bad Z85 key"))?;
        self.allowed.insert(raw);
        Ok(self)
    }

    /// Makes `socket` a CURVE server and starts the ZAP handler of `context` that checks
    /// the allow-list. Call before `bind`.
    pub(crate) fn apply(
        &self,
        context: &zmq::Context,
        socket: &zmq::Socket,
        shared: Arc<Shared>,
    ) -> io::Result<()> {
        require_curve()?;
        let zap = context.socket(zmq::REP)?;
        zap.set_linger(0)?;
        zap.bind("inproc://zeromq.zap.01").map_err(|e| {
            io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("this ZeroMQ context already has a ZAP handler: {e}"),
            )
        })?;
        socket.set_zap_domain("zttp-gateway")?;
        socket.set_curve_server(true)?;
        socket.set_curve_secretkey(self.keys.secret.as_bytes())?;
        let allowed = self.allowed.clone();
        std::thread::Builder::new()
            .name("zttp-zap".into())
            .spawn(move || run_zap(zap, allowed, shared))?;
        Ok(())
    }
}

/// CURVE for a [`Worker`](crate::Worker): the gateway's public key and the worker's own pair.
#[derive(Debug, Clone)]
pub struct WorkerCurve {
    gateway_public: String,
    keys: CurveKeyPair,
}

impl WorkerCurve {
    /// Connect to the gateway whose public key is `gateway_public`, as `keys`.
    pub fn new(gateway_public: &str, keys: CurveKeyPair) -> io::Result<Self> {
        check_key(gateway_public)?;
        Ok(WorkerCurve {
            gateway_public: gateway_public.to_string(),
            keys,
        })
    }

    /// Makes `socket` a CURVE client. Call before `connect`.
    pub(crate) fn apply(&self, socket: &zmq::Socket) -> io::Result<()> {
        require_curve()?;
        socket.set_curve_serverkey(self.gateway_public.as_bytes())?;
        socket.set_curve_publickey(self.keys.public.as_bytes())?;
        socket.set_curve_secretkey(self.keys.secret.as_bytes())?;
        Ok(())
    }
}

/// Answers ZAP requests (RFC 27): `200` for CURVE clients on the allow-list, `400` else.
fn run_zap(zap: zmq::Socket, allowed: HashSet<Vec<u8>>, shared: Arc<Shared>) {
    let poll_ms = Duration::from_millis(200).as_millis() as i64;
    while !shared.outbox.is_stopping() {
        match zap.poll(zmq::POLLIN, poll_ms) {
            Ok(0) | Err(zmq::Error::EINTR) => continue,
            Ok(_) => {}
            Err(_) => return,
        }
        let Ok(request) = zap.recv_multipart(zmq::DONTWAIT) else {
            continue;
        };
        // version, request id, domain, address, identity, mechanism, credentials...
        let version = request.first().cloned().unwrap_or_default();
        let request_id = request.get(1).cloned().unwrap_or_default();
        let mechanism = request.get(5).map(Vec::as_slice);
        let key = request.get(6);
        let admitted = version == b"1.0"
            && mechanism == Some(b"CURVE".as_slice())
            && key.is_some_and(|k| allowed.contains(k));
        let (code, text): (&[u8], &[u8]) = if admitted {
            (b"200", b"OK")
        } else {
            StatsCells::count(&shared.stats.denied);
            let shown = key
                .and_then(|k| zmq::z85_encode(k).ok())
                .unwrap_or_default();
            tracing::warn!(key = %shown, "zttp-zmq gateway: worker key not on the allow-list");
            (b"400", b"worker key not allowed")
        };
        let reply: [&[u8]; 6] = [b"1.0", &request_id, code, text, b"", b""];
        if zap.send_multipart(reply, 0).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_pairs_round_trip_through_a_file() {
        let keys = CurveKeyPair::generate().expect("libzmq with CURVE");
        assert_eq!(keys.public().len(), 40);
        let dir = std::env::temp_dir().join(format!("zttp-curve-{}", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        keys.save(&dir).unwrap();
        assert!(keys.save(&dir).is_err(), "never overwrites");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(CurveKeyPair::load(&dir).unwrap(), keys);
        std::fs::remove_file(&dir).unwrap();
    }

    #[test]
    fn keys_with_hash_and_equals_signs_load() {
        // Z85's alphabet includes `#` and `=`.
        let public = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
        let secret = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";
        let dir = std::env::temp_dir().join(format!("zttp-curve-z85-{}", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        std::fs::write(
            &dir,
            format!("# comment\npublic = {public}#=\nsecret = {secret}\n"),
        )
        .unwrap();
        assert!(
            CurveKeyPair::load(&dir).is_err(),
            "a trailing `#=` is part of the key"
        );
        std::fs::write(
            &dir,
            format!("# comment\npublic = {public}\nsecret = {secret}\n"),
        )
        .unwrap();
        let keys = CurveKeyPair::load(&dir).unwrap();
        assert_eq!((keys.public(), keys.secret()), (public, secret));
        std::fs::remove_file(&dir).unwrap();
        for _ in 0..50 {
            let keys = CurveKeyPair::generate().unwrap();
            let path = dir.with_extension("many");
            let _ = std::fs::remove_file(&path);
            keys.save(&path).unwrap();
            assert_eq!(CurveKeyPair::load(&path).unwrap(), keys);
            std::fs::remove_file(&path).unwrap();
        }
    }

    #[test]
    fn rejects_malformed_keys() {
        assert!(CurveKeyPair::from_z85("short", "short").is_err());
        let keys = CurveKeyPair::generate().unwrap();
        assert!(GatewayCurve::new(keys.clone()).allow("x").is_err());
        assert!(WorkerCurve::new("nope", keys).is_err());
    }
}
