//! ICMP errors through the tokio driver (RFC 8656 §11.5), on 127.0.0.1 and on ::1: a client
//! allocates with long-term credentials, permits a port nothing listens on and sends to it;
//! the kernel answers the relay socket with ICMP port unreachable, and the client gets a
//! Data indication with XOR-PEER-ADDRESS and ICMP (type 3, code 3; over IPv6, type 1, code
//! 4). A peer that does listen gets the datagram and no ICMP is reported. Every wait is
//! bounded.

#![cfg(all(feature = "tokio", target_os = "linux"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::Duration;

use quietroom_turn::auth::{LongTermKey, StaticCredentials};
use quietroom_turn::driver::{self, DriverConfig};
use quietroom_turn::policy::DefaultPeerPolicy;
use quietroom_turn::server::ServerConfig;
use quietroom_turn::stun::{
    AddressFamily, Class, Message, MessageBuilder, Method, TransactionId, attr,
};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const LOCALHOST_V6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);
const STEP: Duration = Duration::from_secs(2);

/// A client of the driver speaking STUN/TURN over one UDP socket.
struct Client {
    socket: UdpSocket,
    server: SocketAddr,
    next_tid: u8,
    key: LongTermKey,
    nonce: Option<String>,
}

impl Client {
    fn new(server: SocketAddr) -> Self {
        let socket = UdpSocket::bind((server.ip(), 0)).unwrap();
        socket.set_read_timeout(Some(STEP)).unwrap();
        Client {
            socket,
            server,
            next_tid: 0,
            key: LongTermKey::derive("user", "test", "pass"),
            nonce: None,
        }
    }

    fn receive(&self) -> Vec<u8> {
        let mut buf = vec![0u8; 2048];
        let (n, _) = self.socket.recv_from(&mut buf).expect("an answer in time");
        buf.truncate(n);
        buf
    }

    /// Sends a request (authenticated once a nonce is known) and returns the answer.
    fn request(&mut self, method: Method, add: &dyn Fn(&mut MessageBuilder<'_>)) -> Vec<u8> {
        self.next_tid += 1;
        let mut buf = Vec::new();
        let mut b = MessageBuilder::new(
            &mut buf,
            Class::Request,
            method,
            TransactionId([self.next_tid; 12]),
        );
        add(&mut b);
        if let Some(nonce) = &self.nonce {
            b.add_str(attr::USERNAME, "user")
                .add_str(attr::REALM, "test")
                .add_str(attr::NONCE, nonce)
                .add_message_integrity(&self.key.md5);
        }
        b.add_fingerprint();
        b.finish();
        self.socket.send_to(&buf, self.server).unwrap();
        self.receive()
    }

    /// Allocates (401, then with credentials) and returns the relayed address, of the
    /// server's family.
    fn allocate(&mut self) -> SocketAddr {
        let v6 = self.server.is_ipv6();
        let allocate = move |b: &mut MessageBuilder<'_>| {
            b.add_requested_transport(17);
            if v6 {
                b.add_address_family(attr::REQUESTED_ADDRESS_FAMILY, AddressFamily::V6);
            }
        };
        let challenge = self.request(Method::ALLOCATE, &allocate);
        let m = Message::parse(&challenge).unwrap();
        assert_eq!(m.error_code().unwrap().map(|(c, _)| c), Some(401));
        self.nonce = Some(m.nonce().unwrap().unwrap().to_owned());
        let answer = self.request(Method::ALLOCATE, &allocate);
        let m = Message::parse(&answer).unwrap();
        assert_eq!(m.class(), Class::Success, "{:?}", m.error_code());
        m.xor_address(attr::XOR_RELAYED_ADDRESS).unwrap().unwrap()
    }

    fn permit(&mut self, peer: SocketAddr) {
        let answer = self.request(Method::CREATE_PERMISSION, &move |b| {
            b.add_xor_address(attr::XOR_PEER_ADDRESS, peer);
        });
        assert_eq!(Message::parse(&answer).unwrap().class(), Class::Success);
    }

    fn send_indication(&mut self, peer: SocketAddr, data: &[u8]) {
        self.next_tid += 1;
        let mut buf = Vec::new();
        let mut b = MessageBuilder::new(
            &mut buf,
            Class::Indication,
            Method::SEND,
            TransactionId([self.next_tid; 12]),
        );
        b.add_xor_address(attr::XOR_PEER_ADDRESS, peer)
            .add_raw(attr::DATA, data);
        b.add_fingerprint();
        b.finish();
        self.socket.send_to(&buf, self.server).unwrap();
    }
}

#[test]
fn a_closed_peer_port_comes_back_as_an_icmp_data_indication() {
    // ICMPv4 destination unreachable, port unreachable.
    closed_port(LOCALHOST, "127.0.0.1/32", 43_000..=43_099, (3, 3));
}

#[test]
fn a_closed_peer_port_comes_back_as_an_icmpv6_data_indication() {
    if UdpSocket::bind((LOCALHOST_V6, 0)).is_err() {
        eprintln!("skipped: no IPv6 loopback here");
        return;
    }
    // ICMPv6 destination unreachable, port unreachable.
    closed_port(LOCALHOST_V6, "::1/128", 43_100..=43_199, (1, 4));
}

/// A client allocates on a server listening and relaying on `ip`, permits a peer that
/// listens and one that does not, and gets `expected` (ICMP type, code) back for the
/// second.
fn closed_port(
    ip: IpAddr,
    allow: &str,
    relay_ports: std::ops::RangeInclusive<u16>,
    expected: (u8, u8),
) {
    let mut users = StaticCredentials::new("test");
    users.add("user", "pass");
    let mut policy = DefaultPeerPolicy::new();
    policy.allow(allow.parse().unwrap());
    let mut config = DriverConfig::new(vec![ip]);
    config.udp = vec![SocketAddr::new(ip, 0)];
    config.relay_ports = relay_ports;
    let running = driver::spawn(
        ServerConfig::new("test"),
        Box::new(users),
        Box::new(policy),
        config,
    )
    .unwrap();
    let mut client = Client::new(running.udp_addrs()[0]);
    let relay = client.allocate();

    // A peer that listens gets the datagram; nothing else comes back.
    let listening = UdpSocket::bind((ip, 0)).unwrap();
    listening.set_read_timeout(Some(STEP)).unwrap();
    let open = listening.local_addr().unwrap();
    client.permit(open);
    client.send_indication(open, b"hello");
    let mut buf = [0u8; 64];
    let (n, from) = listening.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from), (&b"hello"[..], relay));

    // A port nothing listens on (bound, then closed).
    let closed = UdpSocket::bind((ip, 0)).unwrap().local_addr().unwrap();
    client.permit(closed);
    client.send_indication(closed, b"anyone there?");
    let answer = client.receive();
    let m = Message::parse(&answer).unwrap();
    assert_eq!((m.class(), m.method()), (Class::Indication, Method::DATA));
    assert_eq!(m.xor_address(attr::XOR_PEER_ADDRESS).unwrap(), Some(closed));
    assert_eq!(m.icmp().unwrap(), Some((expected.0, expected.1, 0)));
    assert_eq!(m.data(), None);

    // The allocation still relays afterwards.
    client.send_indication(open, b"still here");
    let (n, _) = listening.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"still here");
    let stats = running.stats();
    assert_eq!((stats.icmp_relayed, stats.relayed_to_peers), (1, 3));
    running.shutdown().unwrap();
}
