//! A selective forwarding unit on 127.0.0.1: the sans-IO `Router` behind one UDP socket.
//!
//! A publisher and three subscribers each run a DTLS-SRTP handshake with the SFU over UDP,
//! pinning the SFU's certificate fingerprint (and the SFU pins each of theirs), as they
//! would after exchanging SDP over signaling. The SFU demultiplexes DTLS from SRTP on the
//! same socket (RFC 7983), hands each finished handshake's SRTP session to the router, and
//! forwards the publisher's video: decrypted once in memory, re-encrypted per subscriber
//! with the subscriber's own SSRC and sequence numbers. Nothing is written anywhere.
//!
//! Run with `cargo run --example sfu`.
#![allow(clippy::print_stdout)]

use std::collections::HashMap;
use std::error::Error as StdError;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use quietroom::router::codec::Codec;
use quietroom::router::{
    ExtensionIds, Kind, LayerConfig, ParticipantId, Router, RouterConfig, TrackConfig, TrackId,
};
use quietroom::srtp::dtls::{
    DtlsCertificate, DtlsConfig, DtlsEngine, DtlsEvent, Fingerprint, RtcDtlsEngine, is_dtls,
};
use quietroom::srtp::{MediaCrypto, SrtpSession};

type BoxError = Box<dyn StdError>;

const VIDEO: TrackId = TrackId(1);
const PUBLISHER_SSRC: u32 = 0x5EED_0001;
const PACKETS: u16 = 200;

/// One participant as the SFU sees it: its address and, until the handshake ends, its DTLS
/// engine.
struct Leg {
    id: ParticipantId,
    dtls: Option<RtcDtlsEngine>,
}

/// The SFU: one socket, a DTLS engine per participant still shaking hands, the router.
struct Sfu {
    socket: UdpSocket,
    certificate: DtlsCertificate,
    legs: HashMap<SocketAddr, Leg>,
    addresses: HashMap<ParticipantId, SocketAddr>,
    router: Router<SrtpSession>,
}

impl Sfu {
    fn new() -> Result<Sfu, BoxError> {
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        socket.set_read_timeout(Some(Duration::from_millis(2)))?;
        Ok(Sfu {
            socket,
            certificate: DtlsCertificate::generate()?,
            legs: HashMap::new(),
            addresses: HashMap::new(),
            router: Router::new(RouterConfig::default()),
        })
    }

    /// Signaling told the SFU that `id` will connect from `addr` with this certificate.
    fn expect(&mut self, id: ParticipantId, addr: SocketAddr, fingerprint: Fingerprint) {
        let config = DtlsConfig::new(self.certificate.clone(), fingerprint);
        let dtls = RtcDtlsEngine::server(config, Instant::now()).ok();
        self.legs.insert(addr, Leg { id, dtls });
        self.addresses.insert(id, addr);
    }

    /// Reads at most one datagram and does everything it and the clock call for.
    fn step(&mut self) -> Result<(), BoxError> {
        let mut buf = [0u8; 1500];
        let now = Instant::now();
        match self.socket.recv_from(&mut buf) {
            Ok((n, from)) => self.input(now, from, &mut buf[..n]),
            Err(e) if is_timeout(&e) => {}
            Err(e) => return Err(e.into()),
        }
        for leg in self.legs.values_mut() {
            if let Some(dtls) = leg.dtls.as_mut()
                && dtls.poll_timeout().is_some_and(|at| at <= now)
            {
                dtls.handle_timeout(now)?;
            }
        }
        if self.router.poll_timeout().is_some_and(|at| at <= now) {
            self.router.handle_timeout(now);
        }
        self.flush()
    }

    fn input(&mut self, now: Instant, from: SocketAddr, datagram: &mut [u8]) {
        let Some(leg) = self.legs.get_mut(&from) else {
            return; // not a participant: dropped without a word
        };
        if is_dtls(datagram) {
            let Some(dtls) = leg.dtls.as_mut() else {
                return;
            };
            if let Err(e) = dtls.handle_input(now, datagram) {
                println!("    sfu: handshake with {:?} failed: {e}", leg.id);
                leg.dtls = None;
                return;
            }
            while let Some(event) = dtls.poll_event() {
                if let DtlsEvent::Connected { session, .. } = event {
                    let _ = self.router.add_participant(leg.id, *session);
                }
            }
            return;
        }
        // RFC 5761: RTCP packet types 192–223 sit where RTP has its marker and payload type.
        let rtcp = matches!(datagram.get(1), Some(192..=223));
        let result = if rtcp {
            self.router.handle_rtcp(now, leg.id, datagram)
        } else {
            self.router.handle_rtp(now, leg.id, datagram)
        };
        if let Err(e) = result {
            println!("    sfu: dropped a packet from {:?}: {e}", leg.id);
        }
    }

    /// Sends what the DTLS engines and the router queued.
    fn flush(&mut self) -> Result<(), BoxError> {
        for (addr, leg) in &mut self.legs {
            while let Some(datagram) = leg.dtls.as_mut().and_then(|d| d.poll_transmit()) {
                self.socket.send_to(&datagram, addr)?;
            }
        }
        while let Some(t) = self.router.poll_transmit() {
            if let Some(addr) = self.addresses.get(&t.to) {
                self.socket.send_to(&t.data, addr)?;
            }
            self.router.recycle(t.data);
        }
        Ok(())
    }
}

/// A participant's side: its socket, its handshake with the SFU, then its SRTP session.
struct Client {
    id: ParticipantId,
    socket: UdpSocket,
    certificate: DtlsCertificate,
    dtls: Option<RtcDtlsEngine>,
    srtp: Option<SrtpSession>,
    /// Subscribers: the SSRC the SFU gives it, and the (sequence, payload tag) received.
    ssrc: u32,
    received: Vec<(u16, u16)>,
}

impl Client {
    fn new(n: u64) -> Result<Client, BoxError> {
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        socket.set_read_timeout(Some(Duration::from_millis(2)))?;
        Ok(Client {
            id: ParticipantId(n),
            socket,
            certificate: DtlsCertificate::generate()?,
            dtls: None,
            srtp: None,
            ssrc: 0x1000 + n as u32,
            received: Vec::new(),
        })
    }

    fn connect(&mut self, sfu: Fingerprint) -> Result<(), BoxError> {
        let config = DtlsConfig::new(self.certificate.clone(), sfu);
        self.dtls = Some(RtcDtlsEngine::client(config, Instant::now())?);
        Ok(())
    }

    /// Reads at most one datagram; sends what its handshake queued.
    fn step(&mut self, sfu: SocketAddr) -> Result<(), BoxError> {
        let mut buf = [0u8; 1500];
        let now = Instant::now();
        match self.socket.recv_from(&mut buf) {
            Ok((n, _)) => self.input(now, &mut buf[..n])?,
            Err(e) if is_timeout(&e) => {
                if let Some(dtls) = self.dtls.as_mut() {
                    dtls.handle_timeout(now)?;
                }
            }
            Err(e) => return Err(e.into()),
        }
        while let Some(datagram) = self.dtls.as_mut().and_then(|d| d.poll_transmit()) {
            self.socket.send_to(&datagram, sfu)?;
        }
        Ok(())
    }

    fn input(&mut self, now: Instant, datagram: &mut [u8]) -> Result<(), BoxError> {
        if is_dtls(datagram) {
            if let Some(dtls) = self.dtls.as_mut() {
                dtls.handle_input(now, datagram)?;
                while let Some(event) = dtls.poll_event() {
                    if let DtlsEvent::Connected { session, .. } = event {
                        self.srtp = Some(*session);
                    }
                }
            }
            return Ok(());
        }
        let Some(srtp) = self.srtp.as_mut() else {
            return Ok(());
        };
        if matches!(datagram.get(1), Some(192..=223)) {
            srtp.unprotect_rtcp(datagram)?; // reports and feedback from the SFU
            return Ok(());
        }
        let len = srtp.unprotect_rtp(datagram)?;
        let packet = &datagram[..len];
        let ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
        if ssrc != self.ssrc {
            return Err(format!("{:?} got SSRC {ssrc:#x}, not its own", self.id).into());
        }
        let seq = u16::from_be_bytes([packet[2], packet[3]]);
        let tag = u16::from_be_bytes([packet[len - 2], packet[len - 1]]);
        self.received.push((seq, tag));
        Ok(())
    }

    fn connected(&self) -> bool {
        self.srtp.is_some()
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// A VP8 packet of the publisher's (the first a keyframe), its index in its last two bytes.
fn vp8_packet(index: u16) -> Vec<u8> {
    let seq = 30_000u16.wrapping_add(index);
    let ts = 90_000u32.wrapping_add(u32::from(index / 3) * 3_000);
    let mut p = vec![0x80, 96];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&PUBLISHER_SSRC.to_be_bytes());
    // VP8 payload descriptor (start of partition), then the frame tag (P = 0: keyframe).
    p.extend_from_slice(&[0x10, if index == 0 { 0x00 } else { 0x01 }]);
    p.resize(1_000, 0xAB);
    p.extend_from_slice(&index.to_be_bytes());
    p
}

fn main() -> Result<(), BoxError> {
    let mut sfu = Sfu::new()?;
    let sfu_addr = sfu.socket.local_addr()?;
    let mut clients: Vec<Client> = (1..=4).map(Client::new).collect::<Result<_, _>>()?;

    // Signaling: fingerprints (and, here, addresses) both ways.
    for c in &mut clients {
        sfu.expect(c.id, c.socket.local_addr()?, c.certificate.fingerprint());
        c.connect(sfu.certificate.fingerprint())?;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while !clients.iter().all(Client::connected) {
        if Instant::now() > deadline {
            return Err("the handshakes did not finish within 10 s".into());
        }
        for c in &mut clients {
            c.step(sfu_addr)?;
        }
        sfu.step()?;
    }
    println!(
        "sfu: {} participants connected over DTLS-SRTP",
        clients.len()
    );

    // Participant 1 publishes one VP8 track; the others subscribe, each with its own SSRC.
    let video = TrackConfig {
        kind: Kind::Video,
        codec: Codec::Vp8,
        clock_rate: 90_000,
        layers: vec![LayerConfig {
            ssrc: Some(PUBLISHER_SSRC),
            rid: None,
            spatial: 0,
            bitrate_bps: 1_000_000,
            rtx_ssrc: None,
        }],
        extensions: ExtensionIds::default(),
        rtx_payload_type: None,
        mid: None,
    };
    sfu.router.publish(clients[0].id, VIDEO, video)?;
    for c in &clients[1..] {
        sfu.router.subscribe(Instant::now(), c.id, VIDEO, c.ssrc)?;
    }

    // The publisher sends; the SFU forwards; the subscribers read.
    let (publisher, subscribers) = clients.split_at_mut(1);
    let publisher = &mut publisher[0];
    for index in 0..PACKETS {
        let mut packet = vp8_packet(index);
        let srtp = publisher
            .srtp
            .as_mut()
            .ok_or("the publisher has no SRTP session")?;
        let len = packet.len();
        packet.resize(len + srtp.rtp_overhead(), 0);
        let n = srtp.protect_rtp(&mut packet, len)?;
        publisher.socket.send_to(&packet[..n], sfu_addr)?;
        sfu.step()?;
        for s in subscribers.iter_mut() {
            s.step(sfu_addr)?;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while subscribers
        .iter()
        .any(|s| s.received.len() < usize::from(PACKETS))
        && Instant::now() < deadline
    {
        sfu.step()?;
        for s in subscribers.iter_mut() {
            s.step(sfu_addr)?;
        }
    }

    for s in subscribers.iter() {
        let continuous = s
            .received
            .windows(2)
            .all(|w| w[1].0 == w[0].0.wrapping_add(1));
        let in_order = s.received.iter().enumerate().all(|(i, r)| r.1 == i as u16);
        println!(
            "{:?}: {}/{PACKETS} packets on SSRC {:#x}, sequence numbers continuous: \
             {continuous}, every packet once and in order: {in_order}",
            s.id,
            s.received.len(),
            s.ssrc
        );
        if s.received.len() != usize::from(PACKETS) || !continuous || !in_order {
            return Err(format!("{:?} did not get the stream intact", s.id).into());
        }
    }
    let stats = sfu.router.stats();
    println!(
        "sfu: received {}, forwarded {}, dropped {}",
        stats.received, stats.forwarded, stats.dropped
    );
    Ok(())
}
