//! In-memory handshakes between two engines, with simulated time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::rtc::is_well_formed;
use super::*;
use crate::{Error, MediaCrypto, Profile, SrtpSession};

fn cert_pair() -> &'static (DtlsCertificate, DtlsCertificate) {
    static CERTS: OnceLock<(DtlsCertificate, DtlsCertificate)> = OnceLock::new();
    CERTS.get_or_init(|| {
        (
            DtlsCertificate::generate().unwrap(),
            DtlsCertificate::generate().unwrap(),
        )
    })
}

/// One side of an in-memory handshake and what happened to it.
struct Side {
    engine: RtcDtlsEngine,
    connected: Option<(Profile, Box<SrtpSession>, Fingerprint)>,
    error: Option<Error>,
    sent: usize,
    closed_by_peer: bool,
}

impl Side {
    fn new(engine: RtcDtlsEngine) -> Self {
        Side {
            engine,
            connected: None,
            error: None,
            sent: 0,
            closed_by_peer: false,
        }
    }

    fn collect_events(&mut self) {
        while let Some(event) = self.engine.poll_event() {
            match event {
                DtlsEvent::Connected {
                    profile,
                    session,
                    peer_fingerprint,
                } => {
                    assert!(self.connected.is_none(), "Connected emitted twice");
                    self.connected = Some((profile, session, peer_fingerprint));
                }
                DtlsEvent::PeerClosed => self.closed_by_peer = true,
            }
        }
    }

    fn profile(&self) -> Profile {
        self.connected.as_ref().expect("not connected").0
    }
}

struct Pair {
    client: Side,
    server: Side,
    now: Instant,
    start: Instant,
}

fn pair_with(client: DtlsConfig, server: DtlsConfig) -> Pair {
    let start = Instant::now();
    Pair {
        client: Side::new(RtcDtlsEngine::client(client, start).unwrap()),
        server: Side::new(RtcDtlsEngine::server(server, start).unwrap()),
        now: start,
        start,
    }
}

fn configs() -> (DtlsConfig, DtlsConfig) {
    let (c, s) = cert_pair();
    (
        DtlsConfig::new(c.clone(), s.fingerprint()),
        DtlsConfig::new(s.clone(), c.fingerprint()),
    )
}

/// Moves datagrams from `from` to `to`; `drop` decides by sender index whether one is lost.
fn deliver(
    from: &mut Side,
    to: &mut Side,
    now: Instant,
    drop: &mut dyn FnMut(usize) -> bool,
) -> bool {
    let mut moved = false;
    while let Some(datagram) = from.engine.poll_transmit() {
        let index = from.sent;
        from.sent += 1;
        moved = true;
        if drop(index) || to.error.is_some() {
            continue;
        }
        if let Err(e) = to.engine.handle_input(now, &datagram) {
            to.error = Some(e);
        }
    }
    moved
}

impl Pair {
    /// Runs until neither side is handshaking and nothing is in flight (bounded).
    fn run(
        &mut self,
        drop_client: &mut dyn FnMut(usize) -> bool,
        drop_server: &mut dyn FnMut(usize) -> bool,
    ) {
        for _ in 0..1_000 {
            let a = deliver(&mut self.client, &mut self.server, self.now, drop_client);
            let b = deliver(&mut self.server, &mut self.client, self.now, drop_server);
            self.client.collect_events();
            self.server.collect_events();
            if a || b {
                continue;
            }
            let handshaking: Vec<&mut Side> = [&mut self.client, &mut self.server]
                .into_iter()
                .filter(|s| s.engine.state() == DtlsState::Handshaking)
                .collect();
            if handshaking.is_empty() {
                return;
            }
            let next = handshaking
                .iter()
                .filter_map(|s| s.engine.poll_timeout())
                .min()
                .expect("a handshaking engine always has a timeout");
            assert!(next >= self.now, "timeout in the past");
            self.now = next;
            for side in handshaking {
                if let Err(e) = side.engine.handle_timeout(self.now) {
                    side.error = Some(e);
                }
            }
        }
        panic!("handshake did not settle");
    }

    fn run_clean(&mut self) {
        self.run(&mut |_| false, &mut |_| false);
    }

    fn assert_connected(&self) -> Profile {
        let (c, s) = (&self.client, &self.server);
        assert!(
            c.error.is_none() && s.error.is_none(),
            "{:?} / {:?}",
            c.error,
            s.error
        );
        assert_eq!(c.engine.state(), DtlsState::Connected);
        assert_eq!(s.engine.state(), DtlsState::Connected);
        let profile = c.profile();
        assert_eq!(s.profile(), profile);
        assert_eq!(c.engine.negotiated_profile(), Some(profile));
        assert_eq!(c.connected.as_ref().unwrap().2, cert_pair().1.fingerprint());
        assert_eq!(s.connected.as_ref().unwrap().2, cert_pair().0.fingerprint());
        let km_c = c.engine.dangerous_srtp_keying_material().unwrap();
        let km_s = s.engine.dangerous_srtp_keying_material().unwrap();
        assert_eq!(km_c.len(), profile.keying_material_len());
        assert_eq!(
            *km_c, *km_s,
            "both sides must export the same keying material"
        );
        assert!(km_c.iter().any(|b| *b != 0));
        assert_eq!(c.engine.poll_timeout(), None);
        assert_eq!(s.engine.poll_timeout(), None);
        profile
    }
}

/// Protects RTP and RTCP on one side and unprotects on the other, both directions.
fn assert_sessions_interoperate(pair: &mut Pair) {
    let (mut c, mut s) = (
        pair.client.connected.take().unwrap().1,
        pair.server.connected.take().unwrap().1,
    );
    for swap in [false, true] {
        let (tx, rx) = if swap {
            (&mut s, &mut c)
        } else {
            (&mut c, &mut s)
        };
        let rtp = [
            0x80, 96, 0, 1, 0, 0, 0, 1, 0xCA, 0xFE, 0xBA, 0xBE, b'h', b'i',
        ];
        let mut buf = vec![0u8; rtp.len() + tx.rtp_overhead()];
        buf[..rtp.len()].copy_from_slice(&rtp);
        let n = tx.protect_rtp(&mut buf, rtp.len()).unwrap();
        assert_ne!(&buf[12..14], b"hi", "payload must be encrypted");
        let m = rx.unprotect_rtp(&mut buf[..n]).unwrap();
        assert_eq!(&buf[..m], &rtp);
        // A receiver report with no blocks.
        let rtcp = [0x80, 201, 0, 1, 0xCA, 0xFE, 0xBA, 0xBE];
        let mut buf = vec![0u8; rtcp.len() + tx.rtcp_overhead()];
        buf[..rtcp.len()].copy_from_slice(&rtcp);
        let n = tx.protect_rtcp(&mut buf, rtcp.len()).unwrap();
        let m = rx.unprotect_rtcp(&mut buf[..n]).unwrap();
        assert_eq!(&buf[..m], &rtcp);
    }
}

#[test]
fn handshake_completes_for_each_profile() {
    for profile in Profile::ALL {
        let (c, s) = configs();
        let mut pair = pair_with(c.with_profiles(&[profile]), s.with_profiles(&[profile]));
        pair.run_clean();
        assert_eq!(pair.assert_connected(), profile, "{profile}");
        assert_eq!(pair.now, pair.start, "no timer should have been needed");
        assert_sessions_interoperate(&mut pair);
    }
}

#[test]
fn default_offer_picks_the_clients_first_profile() {
    let (c, s) = configs();
    let mut pair = pair_with(c, s);
    pair.run_clean();
    assert_eq!(pair.assert_connected(), Profile::ALL[0]);
}

#[test]
fn profile_intersection_is_negotiated() {
    let (c, s) = configs();
    let c = c.with_profiles(&[Profile::Aes128CmHmacSha1_32, Profile::AeadAes256Gcm]);
    let s = s.with_profiles(&[Profile::AeadAes256Gcm, Profile::Aes128CmHmacSha1_80]);
    let mut pair = pair_with(c, s);
    pair.run_clean();
    assert_eq!(pair.assert_connected(), Profile::AeadAes256Gcm);
}

#[test]
fn disjoint_profiles_fail_with_no_srtp_profile() {
    let (c, s) = configs();
    let c = c.with_profiles(&[Profile::Aes128CmHmacSha1_32]);
    let s = s.with_profiles(&[Profile::AeadAes128Gcm]);
    let mut pair = pair_with(c, s);
    pair.run_clean();
    assert_eq!(pair.server.error, Some(Error::NoSrtpProfile));
    assert!(pair.client.connected.is_none());
    assert_ne!(pair.client.engine.state(), DtlsState::Connected);
}

#[test]
fn client_refuses_a_server_with_the_wrong_fingerprint() {
    let (c, s) = configs();
    let wrong = DtlsCertificate::generate().unwrap().fingerprint();
    let c = DtlsConfig::new(c.certificate().clone(), wrong);
    let mut pair = pair_with(c, s);
    pair.run_clean();
    assert_eq!(pair.client.error, Some(Error::FingerprintMismatch));
    assert_eq!(pair.client.engine.state(), DtlsState::Failed);
    assert!(pair.client.connected.is_none() && pair.server.connected.is_none());
    // The server learns through our bad_certificate alert.
    assert!(
        matches!(&pair.server.error, Some(Error::Handshake { reason }) if reason.contains("bad_certificate")),
        "{:?}",
        pair.server.error
    );
    assert_eq!(
        pair.client.engine.handle_input(pair.now, &[22; 20]),
        Err(Error::Closed)
    );
}

#[test]
fn server_refuses_a_client_with_the_wrong_fingerprint() {
    let (c, s) = configs();
    let wrong = DtlsCertificate::generate().unwrap().fingerprint();
    let s = DtlsConfig::new(s.certificate().clone(), wrong);
    let mut pair = pair_with(c, s);
    pair.run_clean();
    assert_eq!(pair.server.error, Some(Error::FingerprintMismatch));
    assert!(pair.client.connected.is_none() && pair.server.connected.is_none());
    assert!(
        pair.client.error.is_some(),
        "client must not hang: {:?}",
        pair.client.engine
    );
}

#[test]
fn lost_first_flights_are_retransmitted() {
    // Drop the ClientHello; then the server's HelloVerifyRequest; then its certificate flight.
    for (drop_client, drop_server) in [
        (Some(0), None),
        (None, Some(0)),
        (None, Some(1)),
        (Some(2), None),
    ] {
        let (c, s) = configs();
        let mut pair = pair_with(c, s);
        pair.run(&mut |i| Some(i) == drop_client, &mut |i| {
            Some(i) == drop_server
        });
        pair.assert_connected();
        let waited = pair.now - pair.start;
        assert!(
            waited >= DtlsConfig::DEFAULT_RETRANSMIT_INTERVAL && waited < Duration::from_secs(10),
            "{drop_client:?}/{drop_server:?}: {waited:?}"
        );
    }
}

#[test]
fn silent_peer_times_out_after_retransmissions() {
    let (c, _) = configs();
    let start = Instant::now();
    let mut client = RtcDtlsEngine::client(c, start).unwrap();
    let mut now = start;
    let mut sent = 0;
    let result = loop {
        while client.poll_transmit().is_some() {
            sent += 1;
        }
        let Some(next) = client.poll_timeout() else {
            panic!("no timer while handshaking")
        };
        assert!(next > now && sent < 20);
        now = next;
        if let Err(e) = client.handle_timeout(now) {
            break e;
        }
    };
    assert_eq!(result, Error::HandshakeTimeout);
    assert_eq!(client.state(), DtlsState::Failed);
    assert_eq!(sent, 8, "one ClientHello and seven retransmissions");
    assert!(now - start < DtlsConfig::DEFAULT_HANDSHAKE_TIMEOUT);
    assert_eq!(client.poll_timeout(), None);
}

#[test]
fn server_without_client_hello_times_out_at_the_deadline() {
    let (_, s) = configs();
    let s = s.with_handshake_timeout(Duration::from_secs(5));
    let start = Instant::now();
    let mut server = RtcDtlsEngine::server(s, start).unwrap();
    assert!(server.poll_transmit().is_none());
    assert_eq!(server.poll_timeout(), Some(start + Duration::from_secs(5)));
    server
        .handle_timeout(start + Duration::from_secs(4))
        .unwrap();
    assert_eq!(
        server.handle_timeout(start + Duration::from_secs(5)),
        Err(Error::HandshakeTimeout)
    );
}

/// xorshift64*, deterministic.
fn rng(seed: &mut u64) -> u64 {
    *seed ^= *seed >> 12;
    *seed ^= *seed << 25;
    *seed ^= *seed >> 27;
    seed.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

fn garbage(seed: &mut u64, dtls_shaped: bool) -> Vec<u8> {
    let len = (rng(seed) % 300) as usize;
    let mut v: Vec<u8> = (0..len).map(|_| rng(seed) as u8).collect();
    if dtls_shaped && v.len() >= 13 {
        v[0] = 20 + (rng(seed) % 4) as u8;
        v[1] = 0xFE;
        v[2] = 0xFD;
        let body = (v.len() - 13) as u16;
        v[11..13].copy_from_slice(&body.to_be_bytes());
    }
    v
}

#[test]
fn random_garbage_is_ignored_and_the_handshake_still_completes() {
    let mut seed = 0x9E37_79B9_7F4A_7C15;
    let (c, s) = configs();
    let mut pair = pair_with(c, s);
    for _ in 0..200 {
        pair.server
            .engine
            .handle_input(pair.now, &garbage(&mut seed, false))
            .unwrap();
        pair.client
            .engine
            .handle_input(pair.now, &garbage(&mut seed, false))
            .unwrap();
    }
    // Garbage interleaved with every real datagram, both directions.
    for _ in 0..100 {
        for side in [&mut pair.client, &mut pair.server] {
            if side.error.is_none() {
                side.engine
                    .handle_input(pair.now, &garbage(&mut seed, false))
                    .unwrap();
            }
        }
        let a = deliver(&mut pair.client, &mut pair.server, pair.now, &mut |_| false);
        let b = deliver(&mut pair.server, &mut pair.client, pair.now, &mut |_| false);
        pair.client.collect_events();
        pair.server.collect_events();
        if !a && !b {
            break;
        }
    }
    pair.assert_connected();
    assert!(pair.server.engine.dropped_datagrams() >= 200);
    // And after the handshake.
    for _ in 0..200 {
        pair.server
            .engine
            .handle_input(pair.now, &garbage(&mut seed, false))
            .unwrap();
    }
    assert_eq!(pair.server.engine.state(), DtlsState::Connected);
}

#[test]
fn dtls_shaped_garbage_never_panics() {
    let mut seed = 0x0123_4567_89AB_CDEF;
    for round in 0..30 {
        let (c, s) = configs();
        let mut pair = pair_with(c, s);
        for step in 0..40 {
            for side in [&mut pair.client, &mut pair.server] {
                if side.engine.state() == DtlsState::Handshaking
                    || side.engine.state() == DtlsState::Connected
                {
                    // Errors are allowed (a forged plaintext record may kill a DTLS 1.2
                    // handshake); panics are not.
                    let _ = side
                        .engine
                        .handle_input(pair.now, &garbage(&mut seed, true));
                }
            }
            if step % 4 == round % 4 {
                let _ = deliver(&mut pair.client, &mut pair.server, pair.now, &mut |_| false);
                let _ = deliver(&mut pair.server, &mut pair.client, pair.now, &mut |_| false);
                pair.client.collect_events();
                pair.server.collect_events();
            }
        }
    }
}

#[test]
fn close_notifies_the_peer() {
    let (c, s) = configs();
    let mut pair = pair_with(c, s);
    pair.run_clean();
    pair.assert_connected();
    pair.client.engine.close(pair.now);
    assert_eq!(pair.client.engine.state(), DtlsState::Closed);
    let _ = deliver(&mut pair.client, &mut pair.server, pair.now, &mut |_| false);
    pair.server.collect_events();
    assert!(pair.server.closed_by_peer);
    assert_eq!(pair.server.engine.state(), DtlsState::Closed);
    assert_eq!(
        pair.client.engine.handle_input(pair.now, &[23; 40]),
        Err(Error::Closed)
    );
}

#[test]
fn debug_output_never_contains_key_material() {
    let (c, s) = configs();
    let mut pair = pair_with(c, s);
    pair.run_clean();
    pair.assert_connected();
    let km = pair.client.engine.dangerous_srtp_keying_material().unwrap();
    let (profile, session, fp) = pair.client.connected.take().unwrap();
    let event = DtlsEvent::Connected {
        profile,
        session,
        peer_fingerprint: fp,
    };
    let texts = [
        format!("{event:?}"),
        format!("{:?}", pair.client.engine),
        format!("{:#?}", pair.server.engine),
    ];
    let hex_upper: String = km[..6].iter().map(|b| format!("{b:02X}")).collect();
    let decimal = format!("{}, {}, {}", km[0], km[1], km[2]);
    for text in texts {
        assert!(
            !text.contains(&hex_upper) && !text.contains(&hex_upper.to_lowercase()),
            "{text}"
        );
        assert!(!text.contains(&decimal), "{text}");
    }
}

#[test]
fn keying_material_is_unavailable_before_completion() {
    let (c, _) = configs();
    let client = RtcDtlsEngine::client(c, Instant::now()).unwrap();
    assert_eq!(
        client.dangerous_srtp_keying_material().unwrap_err(),
        Error::HandshakeIncomplete
    );
}

#[test]
fn record_filter() {
    assert!(!is_well_formed(&[]));
    assert!(!is_well_formed(&[
        22, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
    ]));
    let mut rec = vec![22, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 1, 2];
    assert!(is_well_formed(&rec));
    rec.extend_from_slice(&rec.clone());
    assert!(is_well_formed(&rec));
    rec.push(0);
    assert!(!is_well_formed(&rec));
    assert!(!is_well_formed(&[
        24, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1
    ]));
    assert!(!is_well_formed(&[
        22, 0x03, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1
    ]));
}

#[test]
fn engine_is_send_and_object_safe() {
    fn assert_send<T: Send>() {}
    assert_send::<RtcDtlsEngine>();
    let (c, _) = configs();
    let boxed: Box<dyn DtlsEngine> = Box::new(RtcDtlsEngine::client(c, Instant::now()).unwrap());
    assert_eq!(boxed.role(), crate::Role::Client);
}
