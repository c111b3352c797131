//! Interop with libsrtp itself (2.7, through PyPI's `pylibsrtp`): packets libsrtp protects
//! unprotect here, and packets protected here unprotect in libsrtp, for every profile, SRTP
//! and SRTCP, across a sequence-number wrap.
//!
//! Needs `.peers/venv` from `scripts/peers.sh` (or `QUIETROOM_PYTHON` pointing at a Python
//! with pylibsrtp). Skipped with a note when missing, unless `QUIETROOM_REQUIRE_PEERS=1`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use quietroom_srtp::{MasterKey, Profile, SrtpConfig, SrtpContext};

struct Libsrtp {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Libsrtp {
    fn start() -> Option<Self> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let python = std::env::var_os("QUIETROOM_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join(".peers/venv/bin/python"));
        let usable = Command::new(&python)
            .args(["-c", "import pylibsrtp"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !usable {
            let msg = format!(
                "libsrtp interop needs pylibsrtp at {}: run scripts/peers.sh",
                python.display()
            );
            assert!(
                std::env::var("QUIETROOM_REQUIRE_PEERS").as_deref() != Ok("1"),
                "{msg}"
            );
            eprintln!("SKIPPED: {msg}");
            return None;
        }
        let mut child = Command::new(python)
            .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/libsrtp_peer.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Some(Libsrtp {
            child,
            stdin,
            stdout,
        })
    }

    fn call(
        &mut self,
        session: &str,
        p: Profile,
        mk: &MasterKey,
        op: &str,
        pkt: &[u8],
    ) -> Result<Vec<u8>, String> {
        let key = format!("{}{}", hex::encode(mk.key()), hex::encode(mk.salt()));
        writeln!(
            self.stdin,
            "{session} {} {key} {op} {}",
            p.dtls_id(),
            hex::encode(pkt)
        )
        .unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        let line = line.trim();
        match line.strip_prefix("ERR") {
            Some(err) => Err(err.trim().to_string()),
            None => Ok(hex::decode(line).unwrap()),
        }
    }
}

impl Drop for Libsrtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rtp(seq: u16, ssrc: u32, ext: bool, payload_len: usize) -> Vec<u8> {
    let mut p = vec![if ext { 0x91 } else { 0x80 }, 111];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 960).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    if ext {
        p.extend_from_slice(&0xC0DE_0001u32.to_be_bytes()); // one CSRC
        p.extend_from_slice(&[0xBE, 0xDE, 0, 1, 0x10, 0x7F, 0, 0]); // audio level
    }
    p.extend((0..payload_len).map(|i| (i as u8).wrapping_mul(31) ^ seq as u8));
    p
}

fn rtcp(ssrc: u32, n: u8) -> Vec<u8> {
    let mut p = vec![0x81, 201, 0, 7];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[n; 24]); // one report block
    p
}

#[test]
fn libsrtp_both_directions_all_profiles() {
    let Some(mut lib) = Libsrtp::start() else {
        return;
    };
    for (k, p) in Profile::ALL.into_iter().enumerate() {
        let key: Vec<u8> = (0..p.key_len()).map(|i| (i * 7 + k) as u8).collect();
        let salt: Vec<u8> = (0..p.salt_len()).map(|i| (i * 13 + k) as u8).collect();
        let mk = MasterKey::new(p, &key, &salt).unwrap();
        let config = SrtpConfig::default();
        let mut our_tx = SrtpContext::new(&mk, &config).unwrap();
        let mut our_rx = SrtpContext::new(&mk, &config).unwrap();
        let (tx, rx) = (format!("tx{k}"), format!("rx{k}"));
        let ssrc = 0x5EED_0000 + k as u32;

        for i in 0..120u16 {
            // Crosses the 16-bit wrap, so the rollover counter reaches 1 on both sides.
            let seq = 65_500u16.wrapping_add(i);
            let plain = rtp(seq, ssrc, i % 3 == 0, 40 + usize::from(i) * 9);

            // Ours -> libsrtp.
            let mut buf = plain.clone();
            buf.resize(plain.len() + p.rtp_overhead(), 0);
            let n = our_tx.protect_rtp(&mut buf, plain.len()).unwrap();
            let theirs = lib.call(&rx, p, &mk, "unprotect", &buf[..n]);
            assert_eq!(
                theirs.as_deref(),
                Ok(&plain[..]),
                "{p} seq {seq}: libsrtp unprotect"
            );

            // libsrtp -> ours, and both produce the same bytes.
            let protected = lib.call(&tx, p, &mk, "protect", &plain).unwrap();
            assert_eq!(&protected[..], &buf[..n], "{p} seq {seq}: same ciphertext");
            let mut buf = protected.clone();
            let m = our_rx.unprotect_rtp(&mut buf).unwrap();
            assert_eq!(&buf[..m], &plain[..], "{p} seq {seq}: our unprotect");
        }

        for i in 0..20u8 {
            let plain = rtcp(ssrc, i);
            let mut buf = plain.clone();
            buf.resize(plain.len() + p.rtcp_overhead(), 0);
            let n = our_tx.protect_rtcp(&mut buf, plain.len()).unwrap();
            let theirs = lib.call(&rx, p, &mk, "unprotect_rtcp", &buf[..n]);
            assert_eq!(
                theirs.as_deref(),
                Ok(&plain[..]),
                "{p} SRTCP {i}: libsrtp unprotect"
            );

            let protected = lib.call(&tx, p, &mk, "protect_rtcp", &plain).unwrap();
            let mut buf = protected.clone();
            let m = our_rx.unprotect_rtcp(&mut buf).unwrap();
            assert_eq!(&buf[..m], &plain[..], "{p} SRTCP {i}: our unprotect");
        }

        // A forged packet is refused by both.
        let plain = rtp(100, ssrc, false, 50);
        let mut buf = plain.clone();
        buf.resize(plain.len() + p.rtp_overhead(), 0);
        let n = our_tx.protect_rtp(&mut buf, plain.len()).unwrap();
        buf[20] ^= 4;
        assert!(
            lib.call(&rx, p, &mk, "unprotect", &buf[..n]).is_err(),
            "{p}: libsrtp accepted a forgery"
        );
    }
}
