//! DTLS-SRTP end to end over real UDP sockets on 127.0.0.1, std only.
//!
//! Two peers each generate a certificate and exchange fingerprints "over signaling"; they run
//! the sans-IO DTLS handshake over UDP, then protect RTP with the resulting SRTP sessions.
//! Finally a third party with an unknown certificate tries its luck and is refused.
//!
//! Run with `cargo run --example dtls_srtp`.
#![allow(clippy::print_stdout)]

use std::error::Error as StdError;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

use quietroom::srtp::dtls::{DtlsCertificate, DtlsConfig, DtlsEngine, DtlsEvent, RtcDtlsEngine};
use quietroom::srtp::{Error, MediaCrypto, SrtpSession};

type BoxError = Box<dyn StdError>;

/// One peer: its sans-IO engine, its socket, and what the handshake produced.
struct Peer {
    name: &'static str,
    engine: RtcDtlsEngine,
    socket: UdpSocket,
    session: Option<SrtpSession>,
    result: Option<Result<(), Error>>,
}

impl Peer {
    fn new(name: &'static str, engine: RtcDtlsEngine) -> Result<Peer, BoxError> {
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        socket.set_read_timeout(Some(Duration::from_millis(5)))?;
        Ok(Peer {
            name,
            engine,
            socket,
            session: None,
            result: None,
        })
    }

    /// Sends what the engine queued, reads at most one datagram, fires due timers.
    fn step(&mut self, to: &UdpSocket) -> Result<(), BoxError> {
        while let Some(datagram) = self.engine.poll_transmit() {
            self.socket.send_to(&datagram, to.local_addr()?)?;
        }
        if self.result.is_some() {
            return Ok(());
        }
        let mut buf = [0u8; 2048];
        let outcome = match self.socket.recv_from(&mut buf) {
            Ok((n, _from)) => self.engine.handle_input(Instant::now(), &buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                self.engine.handle_timeout(Instant::now())
            }
            Err(e) => return Err(e.into()),
        };
        if let Err(e) = outcome {
            self.result = Some(Err(e));
        }
        while let Some(event) = self.engine.poll_event() {
            if let DtlsEvent::Connected {
                profile, session, ..
            } = event
            {
                println!(
                    "{:>7}: handshake complete, SRTP profile {profile}",
                    self.name
                );
                self.session = Some(*session);
                self.result = Some(Ok(()));
            }
        }
        // Flush anything the last input produced (the server's final flight).
        while let Some(datagram) = self.engine.poll_transmit() {
            self.socket.send_to(&datagram, to.local_addr()?)?;
        }
        Ok(())
    }
}

/// Runs both peers until each has a result (bounded by a 10 s deadline).
fn handshake(a: &mut Peer, b: &mut Peer) -> Result<(), BoxError> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while a.result.is_none() || b.result.is_none() {
        if Instant::now() > deadline {
            return Err("handshake did not finish within 10 s".into());
        }
        a.step(&b.socket)?;
        b.step(&a.socket)?;
    }
    Ok(())
}

fn rtp_packet(seq: u16, payload: &[u8], overhead: usize) -> (Vec<u8>, usize) {
    let [s0, s1] = seq.to_be_bytes();
    let mut packet = vec![0x80, 96, s0, s1, 0, 0, 0x10, 0, 0x51, 0x7E, 0x0D, 0x05];
    packet.extend_from_slice(payload);
    let len = packet.len();
    packet.resize(len + overhead, 0); // room for the authentication tag
    (packet, len)
}

fn main() -> Result<(), BoxError> {
    // 1. Each peer makes a certificate; fingerprints go over signaling (here: println!).
    let alice_cert = DtlsCertificate::generate()?;
    let bob_cert = DtlsCertificate::generate()?;
    println!("alice's SDP: a=fingerprint:{}", alice_cert.fingerprint());
    println!("bob's SDP:   a=fingerprint:{}", bob_cert.fingerprint());

    // 2. Alice is the DTLS client (a=setup:active), Bob the server (a=setup:passive). Each
    //    pins the *other's* fingerprint.
    let now = Instant::now();
    let alice_config = DtlsConfig::new(alice_cert, bob_cert.fingerprint());
    let bob_config = DtlsConfig::new(bob_cert.clone(), alice_config.certificate().fingerprint());
    let mut alice = Peer::new("alice", RtcDtlsEngine::client(alice_config.clone(), now)?)?;
    let mut bob = Peer::new("bob", RtcDtlsEngine::server(bob_config.clone(), now)?)?;
    handshake(&mut alice, &mut bob)?;
    let mut alice_srtp = alice.session.take().ok_or("alice has no SRTP session")?;
    let mut bob_srtp = bob.session.take().ok_or("bob has no SRTP session")?;

    // 3. RTP, protected by one side and unprotected by the other, over the same sockets.
    for (seq, text) in [
        (1u16, "hello bob"),
        (2, "this is end-to-end"),
        (3, "no relay can read it"),
    ] {
        let (mut packet, len) = rtp_packet(seq, text.as_bytes(), alice_srtp.rtp_overhead());
        let srtp_len = alice_srtp.protect_rtp(&mut packet, len)?;
        alice
            .socket
            .send_to(&packet[..srtp_len], bob.socket.local_addr()?)?;

        let mut buf = [0u8; 1500];
        let (n, _) = bob.socket.recv_from(&mut buf)?;
        let rtp_len = bob_srtp.unprotect_rtp(&mut buf[..n])?;
        let payload = String::from_utf8_lossy(&buf[12..rtp_len]);
        println!("    bob: got {n}-byte SRTP packet -> {rtp_len}-byte RTP, payload {payload:?}");
    }
    let (mut packet, len) = rtp_packet(1, b"hi alice", bob_srtp.rtp_overhead());
    let srtp_len = bob_srtp.protect_rtp(&mut packet, len)?;
    let rtp_len = alice_srtp.unprotect_rtp(&mut packet[..srtp_len])?;
    println!(
        "  alice: got {srtp_len}-byte SRTP packet -> {rtp_len}-byte RTP, payload {:?}",
        String::from_utf8_lossy(&packet[12..rtp_len])
    );

    // 4. Mallory has her own certificate; Bob still expects Alice's fingerprint.
    let mallory_config = DtlsConfig::new(DtlsCertificate::generate()?, bob_cert.fingerprint());
    let mut mallory = Peer::new(
        "mallory",
        RtcDtlsEngine::client(mallory_config, Instant::now())?,
    )?;
    let mut bob_again = Peer::new("bob", RtcDtlsEngine::server(bob_config, Instant::now())?)?;
    handshake(&mut mallory, &mut bob_again)?;
    match bob_again.result {
        Some(Err(Error::FingerprintMismatch)) => {
            println!("    bob: refused mallory: {}", Error::FingerprintMismatch);
        }
        other => return Err(format!("expected bob to refuse mallory, got {other:?}").into()),
    }
    if let Some(Err(e)) = &mallory.result {
        println!("mallory: {e}");
    }
    Ok(())
}
