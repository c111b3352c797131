//! Interop of the DTLS-SRTP engine with OpenSSL's `s_server` / `s_client` on 127.0.0.1.
//!
//! Skipped (with a note on stderr) when `openssl` is not on PATH, unless
//! `QUIETROOM_REQUIRE_PEERS=1`, in which case a missing `openssl` fails the test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use quietroom_srtp::dtls::{
    DtlsCertificate, DtlsConfig, DtlsEngine, DtlsEvent, Fingerprint, RtcDtlsEngine,
};
use quietroom_srtp::{Error, Profile, Role};

const DEADLINE: Duration = Duration::from_secs(20);

/// Whether the test can run; panics if peers are required but missing.
fn openssl_available() -> bool {
    let ok = Command::new("openssl")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        if std::env::var("QUIETROOM_REQUIRE_PEERS").as_deref() == Ok("1") {
            panic!(
                "`openssl` is not on PATH but QUIETROOM_REQUIRE_PEERS=1: install OpenSSL 3 to run the DTLS interop tests"
            );
        }
        eprintln!("note: `openssl` not on PATH; skipping the DTLS-SRTP OpenSSL interop test");
    }
    ok
}

/// A temporary directory with an OpenSSL-generated ECDSA P-256 certificate and key.
struct PeerFiles {
    dir: PathBuf,
    fingerprint: Fingerprint,
}

impl PeerFiles {
    fn create() -> PeerFiles {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "quietroom-dtls-openssl-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let status = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
            ])
            .args([
                "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-days", "1", "-subj",
                "/CN=test",
            ])
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "openssl req failed");
        let out = Command::new("openssl")
            .args([
                "x509",
                "-noout",
                "-fingerprint",
                "-sha256",
                "-in",
                "cert.pem",
            ])
            .current_dir(&dir)
            .output()
            .unwrap();
        // "sha256 Fingerprint=AB:CD:…" (the prefix's case varies between versions)
        let text = String::from_utf8(out.stdout).unwrap();
        let hex = text.trim().split_once('=').expect("fingerprint output").1;
        let fingerprint: Fingerprint = format!("sha-256 {hex}").parse().unwrap();
        // Loading the same files must give the same fingerprint.
        let cert_pem = std::fs::read_to_string(dir.join("cert.pem")).unwrap();
        let key_pem = std::fs::read_to_string(dir.join("key.pem")).unwrap();
        let loaded = DtlsCertificate::from_pem(&cert_pem, &key_pem).unwrap();
        assert_eq!(loaded.fingerprint(), fingerprint);
        PeerFiles { dir, fingerprint }
    }

    fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for PeerFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An OpenSSL child process, killed on drop; its stdout lines arrive on a channel.
struct OpensslPeer {
    child: Child,
    _stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl OpensslPeer {
    fn spawn(dir: &Path, args: &[String]) -> OpensslPeer {
        let mut child = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        OpensslPeer {
            child,
            _stdin: stdin,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits (bounded) for a line starting with `prefix` (after trimming); returns the rest.
    fn wait_for(&mut self, prefix: &str, until: Instant) -> Option<String> {
        loop {
            if let Some(line) = self.seen.iter().find_map(|l| l.trim().strip_prefix(prefix)) {
                return Some(line.trim().to_owned());
            }
            let left = until.checked_duration_since(Instant::now())?;
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => return None,
            }
        }
    }
}

impl Drop for OpensslPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Drives `engine` over a real UDP socket with the real clock until it connects or fails.
/// `peer` is `None` for a server, which learns the address from the first datagram.
fn drive(
    engine: &mut RtcDtlsEngine,
    socket: &UdpSocket,
    mut peer: Option<SocketAddr>,
) -> Result<(Profile, SocketAddr), Error> {
    let until = Instant::now() + DEADLINE;
    let mut buf = [0u8; 2048];
    let mut connected = None;
    loop {
        if let Some(to) = peer {
            while let Some(datagram) = engine.poll_transmit() {
                socket.send_to(&datagram, to).unwrap();
            }
        }
        while let Some(event) = engine.poll_event() {
            if let DtlsEvent::Connected { profile, .. } = event {
                connected = Some(profile);
            }
        }
        if let (Some(profile), Some(to)) = (connected, peer) {
            return Ok((profile, to));
        }
        let now = Instant::now();
        assert!(
            now < until,
            "handshake with OpenSSL did not finish within {DEADLINE:?}"
        );
        let wait = engine
            .poll_timeout()
            .map_or(Duration::from_millis(50), |t| {
                t.saturating_duration_since(now)
            })
            .clamp(Duration::from_millis(1), Duration::from_millis(50));
        socket.set_read_timeout(Some(wait)).unwrap();
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => {
                if peer.is_none() {
                    peer = Some(from);
                }
                if Some(from) == peer {
                    engine.handle_input(Instant::now(), &buf[..n])?;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                engine.handle_timeout(Instant::now())?;
            }
            Err(e) => panic!("recv: {e}"),
        }
    }
}

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn export_args(profile: Profile) -> Vec<String> {
    vec![
        "-use_srtp".into(),
        profile.name().into(),
        "-keymatexport".into(),
        "EXTRACTOR-dtls_srtp".into(),
        "-keymatexportlen".into(),
        profile.keying_material_len().to_string(),
    ]
}

/// Checks OpenSSL's reported profile and keying material against ours.
fn assert_same_keys(peer: &mut OpensslPeer, engine: &RtcDtlsEngine, profile: Profile) {
    let until = Instant::now() + Duration::from_secs(10);
    let negotiated = peer
        .wait_for("SRTP Extension negotiated, profile=", until)
        .unwrap_or_else(|| {
            panic!(
                "OpenSSL did not report an SRTP profile; output: {:?}",
                peer.seen
            )
        });
    assert_eq!(negotiated, profile.name());
    let theirs = peer.wait_for("Keying material:", until).unwrap_or_else(|| {
        panic!(
            "OpenSSL did not print keying material; output: {:?}",
            peer.seen
        )
    });
    let theirs = hex::decode(theirs).unwrap();
    let ours = engine.dangerous_srtp_keying_material().unwrap();
    assert_eq!(ours.len(), profile.keying_material_len());
    assert_eq!(theirs, *ours, "keying material differs from OpenSSL's");
}

/// We are the DTLS client; `openssl s_server` is the server and requests our certificate.
fn we_are_client(profile: Profile, tamper_fingerprint: bool) -> Result<(), Error> {
    let files = PeerFiles::create();
    let port = free_port();
    let mut args: Vec<String> = ["s_server", "-dtls1_2", "-accept"]
        .into_iter()
        .map(String::from)
        .collect();
    args.push(format!("127.0.0.1:{port}"));
    args.extend(
        [
            "-cert", "cert.pem", "-key", "key.pem", "-verify", "1", "-naccept", "1",
        ]
        .map(String::from),
    );
    args.extend(export_args(profile));
    let mut server = OpensslPeer::spawn(files.path(), &args);
    assert!(
        server
            .wait_for("ACCEPT", Instant::now() + Duration::from_secs(10))
            .is_some(),
        "s_server did not start: {:?}",
        server.seen
    );

    let expected = if tamper_fingerprint {
        DtlsCertificate::generate()?.fingerprint()
    } else {
        files.fingerprint
    };
    let config = DtlsConfig::new(DtlsCertificate::generate()?, expected).with_profiles(&[profile]);
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut engine = RtcDtlsEngine::new(config, Role::Client, Instant::now())?;
    let (negotiated, _) = drive(
        &mut engine,
        &socket,
        Some(SocketAddr::from(([127, 0, 0, 1], port))),
    )?;
    assert_eq!(negotiated, profile);
    assert_same_keys(&mut server, &engine, profile);
    Ok(())
}

/// We are the DTLS server; `openssl s_client` connects and presents its certificate.
fn we_are_server(profile: Profile, tamper_fingerprint: bool) -> Result<(), Error> {
    let files = PeerFiles::create();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = socket.local_addr().unwrap().port();
    let expected = if tamper_fingerprint {
        DtlsCertificate::generate()?.fingerprint()
    } else {
        files.fingerprint
    };
    let config =
        DtlsConfig::new(DtlsCertificate::generate()?, expected).with_profiles(&Profile::ALL);
    let mut engine = RtcDtlsEngine::new(config, Role::Server, Instant::now())?;

    let mut args: Vec<String> = ["s_client", "-dtls1_2", "-connect"]
        .into_iter()
        .map(String::from)
        .collect();
    args.push(format!("127.0.0.1:{port}"));
    args.extend(["-cert", "cert.pem", "-key", "key.pem"].map(String::from));
    args.extend(export_args(profile));
    let mut client = OpensslPeer::spawn(files.path(), &args);

    let (negotiated, _) = drive(&mut engine, &socket, None)?;
    assert_eq!(negotiated, profile);
    assert_same_keys(&mut client, &engine, profile);
    Ok(())
}

const PROFILES: [Profile; 4] = [
    Profile::AeadAes128Gcm,
    Profile::Aes128CmHmacSha1_80,
    Profile::AeadAes256Gcm,
    Profile::Aes128CmHmacSha1_32,
];

#[test]
fn our_client_against_openssl_s_server() {
    if !openssl_available() {
        return;
    }
    for profile in PROFILES {
        we_are_client(profile, false).unwrap_or_else(|e| panic!("{profile}: {e}"));
    }
}

#[test]
fn our_server_against_openssl_s_client() {
    if !openssl_available() {
        return;
    }
    for profile in PROFILES {
        we_are_server(profile, false).unwrap_or_else(|e| panic!("{profile}: {e}"));
    }
}

#[test]
fn wrong_fingerprint_is_refused_in_both_roles() {
    if !openssl_available() {
        return;
    }
    assert_eq!(
        we_are_client(Profile::AeadAes128Gcm, true),
        Err(Error::FingerprintMismatch)
    );
    assert_eq!(
        we_are_server(Profile::AeadAes128Gcm, true),
        Err(Error::FingerprintMismatch)
    );
}
