//! The tokio driver against independent clients, all on 127.0.0.1:
//!
//! * webrtc-rs's async TURN client (`turn` 0.17) allocates over UDP, creates a permission,
//!   relays both ways with Send/Data indications and then, after its background
//!   ChannelBind, with ChannelData — a counting UDP proxy between client and server checks
//!   that ChannelData really flowed both ways;
//! * a plain TCP client does a framed Binding request and gets XOR-MAPPED-ADDRESS; garbage on
//!   one connection closes it without disturbing another;
//! * the same Binding over TLS, with a self-signed test certificate.
//!
//! Every wait is bounded (`tokio::time::timeout`).

#![cfg(feature = "tokio")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use quietroom_turn::auth::StaticCredentials;
use quietroom_turn::driver::{self, DriverConfig, Running};
use quietroom_turn::policy::DefaultPeerPolicy;
use quietroom_turn::server::ServerConfig;
use quietroom_turn::stun::{self, Class, Message, MessageBuilder, Method, TransactionId, attr};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;
use turn::client::{Client, ClientConfig};
use webrtc_util::Conn;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const ANY_PORT: SocketAddr = SocketAddr::new(LOCALHOST, 0);
const OVERALL: Duration = Duration::from_secs(20);
const STEP: Duration = Duration::from_secs(2);

/// A self-signed certificate for `localhost` / 127.0.0.1 and its key. Test material only.
const TEST_CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBvjCCAWWgAwIBAgIUM1KFyOsxO0nNV+vIL2KbJGDR5OgwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyMzE3MTkwNloYDzIxMjYxMDMw
MTcxOTA2WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAARkgRFAuipbzmruKl0T0kFy4Gzqbtvm6eu8D7SgRNoxkqcyTVSHIInG
jFeIX6eVsOzvbXYaydXFh3utK0+r2tKdo4GSMIGPMB0GA1UdDgQWBBTSCsmDT+10
odn+/fKdvE2dE9yXDDAfBgNVHSMEGDAWgBTSCsmDT+10odn+/fKdvE2dE9yXDDAa
BgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwDAYDVR0TAQH/BAIwADAOBgNVHQ8B
Af8EBAMCB4AwEwYDVR0lBAwwCgYIKwYBBQUHAwEwCgYIKoZIzj0EAwIDRwAwRAIg
ZGSQ8qWrHkLy4Bul11bJ+DbwLvRynGqQwNHnEWe/+foCIDXWqgoWaTU7S4SNGPyC
yA2Q2gBaJMy9t3qmf2CkeSeU
-----END CERTIFICATE-----
";
const TEST_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgIommAt5ibimGEQ51
AMv2HwhUWDFZOI6LQ4ZpCekwjLehRANCAARkgRFAuipbzmruKl0T0kFy4Gzqbtvm
6eu8D7SgRNoxkqcyTVSHIInGjFeIX6eVsOzvbXYaydXFh3utK0+r2tKd
-----END PRIVATE KEY-----
";

enum Listen {
    Udp,
    Tcp,
    Tls,
}

fn start(listen: Listen, relay_ports: std::ops::RangeInclusive<u16>) -> Running {
    let mut users = StaticCredentials::new("test");
    users.add("user", "pass");
    let mut policy = DefaultPeerPolicy::new();
    policy.allow("127.0.0.1/32".parse().unwrap());
    let mut config = DriverConfig::new(vec![LOCALHOST]);
    match listen {
        Listen::Udp => config.udp = vec![ANY_PORT],
        Listen::Tcp => config.tcp = vec![ANY_PORT],
        Listen::Tls => {
            config.tls = vec![ANY_PORT];
            config.tls_config = Some(
                driver::tls_config_from_pem(TEST_CERT.as_bytes(), TEST_KEY.as_bytes()).unwrap(),
            );
        }
    }
    config.relay_ports = relay_ports;
    driver::spawn(
        ServerConfig::new("test"),
        Box::new(users),
        Box::new(policy),
        config,
    )
    .unwrap()
}

/// ChannelData datagrams seen by the proxy, each way.
#[derive(Default)]
struct Counts {
    channel_data_to_server: AtomicU64,
    channel_data_to_client: AtomicU64,
}

/// A UDP proxy on one socket: datagrams from the server go to the last client address,
/// everything else goes to the server. Counts ChannelData (first byte 0x40–0x4F) each way.
async fn proxy(socket: UdpSocket, server: SocketAddr, counts: Arc<Counts>) {
    let mut buf = vec![0u8; 65_536];
    let mut client = None;
    loop {
        let Ok((n, from)) = socket.recv_from(&mut buf).await else {
            return;
        };
        let data = &buf[..n];
        let channel_data = matches!(data.first(), Some(0x40..=0x4F));
        let to = if from == server {
            if channel_data {
                counts
                    .channel_data_to_client
                    .fetch_add(1, Ordering::Relaxed);
            }
            client
        } else {
            client = Some(from);
            if channel_data {
                counts
                    .channel_data_to_server
                    .fetch_add(1, Ordering::Relaxed);
            }
            Some(server)
        };
        if let Some(to) = to {
            let _ = socket.send_to(data, to).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webrtc_turn_client_relays_both_ways() {
    let running = start(Listen::Udp, 50_100..=50_199);
    let server = running.udp_addrs()[0];
    let counts = Arc::new(Counts::default());
    let proxy_socket = UdpSocket::bind(ANY_PORT).await.unwrap();
    let proxy_addr = proxy_socket.local_addr().unwrap();
    let proxy_task = tokio::spawn(proxy(proxy_socket, server, Arc::clone(&counts)));

    const ROUNDS: usize = 20;
    timeout(OVERALL, async {
        let conn = Arc::new(UdpSocket::bind(ANY_PORT).await.unwrap());
        let client = Client::new(ClientConfig {
            stun_serv_addr: proxy_addr.to_string(),
            turn_serv_addr: proxy_addr.to_string(),
            username: "user".into(),
            password: "pass".into(),
            realm: "test".into(),
            software: String::new(),
            rto_in_ms: 0,
            conn,
            vnet: None,
        })
        .await
        .unwrap();
        client.listen().await.unwrap();
        let relay = client.allocate().await.unwrap();
        let relayed = relay.local_addr().unwrap();
        assert_eq!(relayed.ip(), LOCALHOST);
        assert!((50_100..=50_199).contains(&relayed.port()));

        let peer = UdpSocket::bind(ANY_PORT).await.unwrap();
        let peer_addr = peer.local_addr().unwrap();
        let mut buf = vec![0u8; 2048];
        for i in 0..ROUNDS {
            let out = format!("hello {i}");
            relay.send_to(out.as_bytes(), peer_addr).await.unwrap();
            let (n, from) = timeout(STEP, peer.recv_from(&mut buf))
                .await
                .expect("peer receives what the client sent")
                .unwrap();
            assert_eq!(from, relayed, "the peer sees the relayed address");
            assert_eq!(&buf[..n], out.as_bytes());

            // The peer answers; retry a few times in case a datagram is lost or the client
            // is still installing its channel.
            let back = format!("reply {i}");
            let mut got = false;
            for _ in 0..5 {
                peer.send_to(back.as_bytes(), relayed).await.unwrap();
                if let Ok(r) = timeout(Duration::from_millis(500), relay.recv_from(&mut buf)).await
                {
                    let (n, from) = r.unwrap();
                    assert_eq!(from, peer_addr, "the client sees the peer's address");
                    assert_eq!(&buf[..n], back.as_bytes());
                    got = true;
                    break;
                }
            }
            assert!(got, "round {i}: the client never got the peer's reply");
            // Give the background ChannelBind a moment early on.
            if i < 3 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        relay.close().await.unwrap();
        client.close().await.unwrap();
    })
    .await
    .expect("the exchange finished in time");

    let stats = running.stats();
    assert!(
        stats.relayed_to_peers >= ROUNDS as u64,
        "relayed to peers: {stats:?}"
    );
    assert!(
        stats.relayed_to_clients >= ROUNDS as u64,
        "relayed to clients: {stats:?}"
    );
    assert!(
        counts.channel_data_to_server.load(Ordering::Relaxed) > 0,
        "the client never sent ChannelData"
    );
    assert!(
        counts.channel_data_to_client.load(Ordering::Relaxed) > 0,
        "the server never sent ChannelData"
    );
    proxy_task.abort();
    running.shutdown().unwrap();
}

/// A Binding request with FINGERPRINT.
fn binding_request(tid: [u8; 12]) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut b = MessageBuilder::new(
        &mut buf,
        Class::Request,
        Method::BINDING,
        TransactionId(tid),
    );
    b.add_fingerprint();
    let len = b.finish();
    buf.truncate(len);
    buf
}

/// Reads one framed message from a stream.
async fn read_frame<S: AsyncRead + Unpin>(stream: &mut S) -> Vec<u8> {
    let mut frame = vec![0u8; 4];
    timeout(STEP, stream.read_exact(&mut frame))
        .await
        .expect("a response in time")
        .unwrap();
    let len = stun::stream_frame_len(&frame).unwrap().unwrap();
    frame.resize(len, 0);
    timeout(STEP, stream.read_exact(&mut frame[4..]))
        .await
        .expect("the rest of the frame in time")
        .unwrap();
    frame
}

/// Sends a Binding request on `stream` (in two writes, to exercise reassembly) and checks the
/// XOR-MAPPED-ADDRESS in the answer.
async fn binding_over<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    tid: [u8; 12],
    expect: SocketAddr,
) {
    let request = binding_request(tid);
    let (a, b) = request.split_at(7);
    stream.write_all(a).await.unwrap();
    stream.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    stream.write_all(b).await.unwrap();
    stream.flush().await.unwrap();
    let frame = read_frame(stream).await;
    let msg = Message::parse(&frame).unwrap();
    assert_eq!(msg.class(), Class::Success);
    assert_eq!(msg.method(), Method::BINDING);
    assert_eq!(msg.transaction_id(), TransactionId(tid));
    assert_eq!(
        msg.xor_address(attr::XOR_MAPPED_ADDRESS).unwrap(),
        Some(expect)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_binding_and_garbage_closes_only_that_connection() {
    let running = start(Listen::Tcp, 50_200..=50_209);
    let server = running.tcp_addrs()[0];
    timeout(OVERALL, async {
        let mut good = TcpStream::connect(server).await.unwrap();
        let good_addr = good.local_addr().unwrap();
        binding_over(&mut good, [1; 12], good_addr).await;

        // Two Binding requests in one write: both answered, in order.
        let mut both = binding_request([2; 12]);
        both.extend_from_slice(&binding_request([3; 12]));
        good.write_all(&both).await.unwrap();
        for tid in [[2; 12], [3; 12]] {
            let frame = read_frame(&mut good).await;
            assert_eq!(
                Message::parse(&frame).unwrap().transaction_id(),
                TransactionId(tid)
            );
        }

        let mut bad = TcpStream::connect(server).await.unwrap();
        // Neither STUN (top bits 00) nor ChannelData (0x40-0x4F): the stream cannot be framed.
        // (Note "GET ..." would not do: 'G' is 0x47, a ChannelData channel number.)
        bad.write_all(b"\x80\x01 not TURN at all").await.unwrap();
        let mut sink = [0u8; 64];
        let n = timeout(STEP, bad.read(&mut sink))
            .await
            .expect("the server closes a connection that sent garbage");
        assert!(matches!(n, Ok(0) | Err(_)), "expected EOF, got {n:?}");

        // The other connection is unaffected.
        binding_over(&mut good, [4; 12], good_addr).await;
    })
    .await
    .expect("finished in time");
    assert!(
        running.stats().malformed == 0,
        "garbage is a framing error, not a message"
    );
    running.shutdown().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_binding() {
    let running = start(Listen::Tls, 50_210..=50_219);
    let server = running.tls_addrs()[0];
    timeout(OVERALL, async {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, ServerName};
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(TEST_CERT.as_bytes()).unwrap())
            .unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = TcpStream::connect(server).await.unwrap();
        let local = tcp.local_addr().unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let mut tls = timeout(STEP, connector.connect(name, tcp))
            .await
            .expect("handshake in time")
            .unwrap();
        binding_over(&mut tls, [5; 12], local).await;
        tls.shutdown().await.unwrap();
    })
    .await
    .expect("finished in time");
    running.shutdown().unwrap();
}
