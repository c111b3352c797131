//! UDP: the receive task of listeners and relay sockets, and sending.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;

use super::Shared;
use crate::server::{FiveTuple, Transport};

/// The shared receive buffer: the largest UDP payload.
pub(super) const RECV_BUF: usize = 65_536;
/// Datagrams handed to the core per wake-up before its output is sent.
const BATCH: usize = 32;
/// Pause after a receive error, so a persistent error cannot spin the thread.
const ERROR_PAUSE: Duration = Duration::from_millis(10);

/// What a UDP socket is to the server.
#[derive(Clone, Copy, Debug)]
pub(super) enum Role {
    /// A client-facing listener bound on this address.
    Listener(SocketAddr),
    /// A relay socket for this relay address.
    Relay(SocketAddr),
}

/// Receives datagrams on `socket` and hands them to the core, until aborted.
pub(super) async fn receive(shared: Rc<Shared>, socket: Rc<UdpSocket>, role: Role) {
    let mut out = Vec::new();
    loop {
        if let Err(e) = socket.readable().await {
            tracing::warn!(role = ?role, error = %e, "UDP socket failed; receive task stops");
            return;
        }
        let mut failed = false;
        for _ in 0..BATCH {
            let mut buf = shared.rx_buf.borrow_mut();
            match socket.try_recv_from(&mut buf) {
                Ok((len, from)) => {
                    let data = buf.get(..len).unwrap_or_default();
                    let mut core = shared.core.borrow_mut();
                    match role {
                        Role::Listener(server) => core.handle_client(
                            Instant::now(),
                            FiveTuple {
                                transport: Transport::Udp,
                                client: from,
                                server,
                            },
                            data,
                        ),
                        Role::Relay(relay) => core.handle_peer(Instant::now(), relay, from, data),
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => {
                    // E.g. an ICMP error reported on the socket: not fatal.
                    tracing::debug!(role = ?role, error = %e, "UDP receive error");
                    failed = true;
                    break;
                }
            }
        }
        shared.flush_and_send(&mut out).await;
        if failed {
            tokio::time::sleep(ERROR_PAUSE).await;
        }
    }
}

/// Sends one datagram, waiting for the socket only when its buffer is full. Failures are
/// logged (without the payload) and the datagram is dropped, as the network could.
pub(super) async fn send(socket: &UdpSocket, to: SocketAddr, data: &[u8]) {
    let result = match socket.try_send_to(data, to) {
        Err(e) if e.kind() == ErrorKind::WouldBlock => socket.send_to(data, to).await,
        other => other,
    };
    if let Err(e) = result {
        tracing::debug!(to = %to, len = data.len(), error = %e, "UDP send failed");
    }
}
