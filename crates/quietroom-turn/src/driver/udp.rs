//! UDP: the receive task of listeners and relay sockets, and sending.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::io::Interest;
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
    let mut icmp = Vec::new();
    // A relay socket also waits for ICMP errors (its error queue, `driver/icmp.rs`).
    let interest = match role {
        Role::Relay(_) => Interest::READABLE | Interest::ERROR,
        Role::Listener(_) => Interest::READABLE,
    };
    loop {
        let ready = match socket.ready(interest).await {
            Ok(ready) => ready,
            Err(e) => {
                tracing::warn!(role = ?role, error = %e, "UDP socket failed; receive task stops");
                return;
            }
        };
        if let Role::Relay(relay) = role
            && ready.is_error()
        {
            icmp_errors(&shared, &socket, relay, &mut icmp);
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
                    // E.g. an ICMP error reported on the socket: not fatal. On a relay
                    // socket it is read from the error queue and goes to the client.
                    drop(buf);
                    let passed_on = match role {
                        Role::Relay(relay) => icmp_errors(&shared, &socket, relay, &mut icmp),
                        Role::Listener(_) => 0,
                    };
                    if passed_on == 0 {
                        tracing::debug!(role = ?role, error = %e, "UDP receive error");
                        failed = true;
                        break;
                    }
                }
            }
        }
        shared.flush_and_send(&mut out).await;
        if failed {
            tokio::time::sleep(ERROR_PAUSE).await;
        }
    }
}

/// Reads the ICMP errors queued on relay socket `socket` and hands them to the core; returns
/// how many there were.
fn icmp_errors(
    shared: &Shared,
    socket: &UdpSocket,
    relay: SocketAddr,
    scratch: &mut Vec<(SocketAddr, crate::server::IcmpError)>,
) -> usize {
    scratch.clear();
    let result = socket.try_io(Interest::ERROR, || super::icmp::read_queue(socket, scratch));
    if let Err(e) = result
        && e.kind() != ErrorKind::WouldBlock
    {
        tracing::debug!(relay = %relay, error = %e, "reading ICMP errors failed");
    }
    let count = scratch.len();
    let mut core = shared.core.borrow_mut();
    for (peer, error) in scratch.drain(..) {
        tracing::debug!(relay = %relay, peer = %peer, icmp_type = error.icmp_type, code = error.code, "ICMP error");
        core.handle_icmp(Instant::now(), relay, peer, error);
    }
    count
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
