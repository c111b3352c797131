//! A [`RelayProvider`] that binds a real UDP socket on every relay address it hands out.
//!
//! The core asks for relay addresses synchronously, inside a request; the provider picks a
//! port from a [`PortPool`], binds a non-blocking `std` socket on it (trying further ports if
//! the bind fails, e.g. because another process holds one) and parks the socket in a map
//! shared with the event loop, which claims it when the core reports the allocation.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::TurnError;
use crate::server::{PortPool, PortRequest, RelayProvider};
use crate::stun::AddressFamily;

/// Ports tried per request before giving up (each failed bind moves to the next port).
const BIND_ATTEMPTS: usize = 64;

/// Bound relay sockets waiting for the event loop to claim them.
#[derive(Clone, Default)]
pub(crate) struct Parked(Arc<Mutex<HashMap<SocketAddr, UdpSocket>>>);

impl Parked {
    fn lock(&self) -> MutexGuard<'_, HashMap<SocketAddr, UdpSocket>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the socket bound on `relay`, if one is parked.
    pub(crate) fn take(&self, relay: SocketAddr) -> Option<UdpSocket> {
        self.lock().remove(&relay)
    }
}

/// Binds relay sockets from a [`PortPool`].
pub(crate) struct BindingRelays {
    pool: PortPool,
    /// Sockets bound for allocations the event loop has not claimed yet.
    parked: Parked,
    /// Sockets holding the port reserved by EVEN-PORT (R=1), until claimed or released.
    reserved: HashMap<SocketAddr, UdpSocket>,
}

impl BindingRelays {
    /// A provider over `ips` and `ports`, parking its sockets in `parked`.
    pub(crate) fn new(
        ips: &[IpAddr],
        ports: RangeInclusive<u16>,
        parked: Parked,
    ) -> Result<Self, TurnError> {
        Ok(BindingRelays {
            pool: PortPool::new(ips, ports)?,
            parked,
            reserved: HashMap::new(),
        })
    }

    fn bind(addr: SocketAddr) -> std::io::Result<UdpSocket> {
        let socket = super::bind_udp(addr)?;
        socket.set_nonblocking(true)?;
        // ICMP errors for what the relay sends reach the client (RFC 8656 §11.5); without
        // them the relay still works.
        if let Err(e) = super::icmp::enable(&socket, addr.is_ipv6()) {
            tracing::debug!(relay = %addr, error = %e, "ICMP errors not enabled");
        }
        Ok(socket)
    }

    /// One attempt: a port from the pool, bound (with the reserved next port when asked).
    fn try_once(
        &mut self,
        family: AddressFamily,
        request: PortRequest,
    ) -> Result<Result<(SocketAddr, UdpSocket), SocketAddr>, TurnError> {
        let addr = self.pool.allocate(family, request)?;
        let reserve_next = matches!(request, PortRequest::Even { reserve_next: true });
        let next = SocketAddr::new(addr.ip(), addr.port().wrapping_add(1));
        let Ok(socket) = Self::bind(addr) else {
            if reserve_next {
                // The pool holds the next port too; it is not bound, so let it go now.
                self.pool.release(next);
            }
            return Ok(Err(addr));
        };
        if reserve_next {
            match Self::bind(next) {
                Ok(held) => {
                    self.reserved.insert(next, held);
                }
                Err(_) => {
                    self.pool.release(next);
                    return Ok(Err(addr));
                }
            }
        }
        Ok(Ok((addr, socket)))
    }
}

impl RelayProvider for BindingRelays {
    fn allocate(
        &mut self,
        family: AddressFamily,
        request: PortRequest,
    ) -> Result<SocketAddr, TurnError> {
        if matches!(request, PortRequest::Reserved(_)) {
            let addr = self.pool.allocate(family, request)?;
            let socket = match self.reserved.remove(&addr) {
                Some(socket) => socket,
                None => Self::bind(addr).map_err(|e| TurnError::RelayUnavailable {
                    reason: format!("binding the reserved relay port failed: {e}"),
                })?,
            };
            self.parked.lock().insert(addr, socket);
            return Ok(addr);
        }
        // Ports whose bind failed stay marked as used in the pool while we look further, so
        // the pool does not offer them again; they are given back at the end.
        let mut failed = Vec::new();
        let mut outcome = Err(TurnError::RelayUnavailable {
            reason: "no relay port could be bound".into(),
        });
        for _ in 0..BIND_ATTEMPTS {
            match self.try_once(family, request) {
                Ok(Ok((addr, socket))) => {
                    self.parked.lock().insert(addr, socket);
                    outcome = Ok(addr);
                    break;
                }
                Ok(Err(busy)) => failed.push(busy),
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            }
        }
        if !failed.is_empty() {
            tracing::debug!(ports = failed.len(), "relay ports busy, skipped");
        }
        for addr in failed {
            self.pool.release(addr);
        }
        outcome
    }

    fn release(&mut self, relay: SocketAddr) {
        self.pool.release(relay);
        // A reservation that expired unclaimed, or an allocation that never got claimed.
        self.reserved.remove(&relay);
        self.parked.lock().remove(&relay);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn binds_and_skips_busy_ports() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        // Find two free consecutive-ish ports by binding port 0 and use a small range around.
        let probe = UdpSocket::bind((ip, 0)).unwrap();
        let busy = probe.local_addr().unwrap().port();
        let end = busy.saturating_add(20);
        let parked = Parked::default();
        let mut relays = BindingRelays::new(&[ip], busy..=end, parked.clone()).unwrap();
        let addr = relays
            .allocate(AddressFamily::V4, PortRequest::Any)
            .unwrap();
        assert_ne!(addr.port(), busy, "the busy port must be skipped");
        let socket = parked.take(addr).unwrap();
        assert_eq!(socket.local_addr().unwrap(), addr);
        relays.release(addr);
        assert!(
            relays
                .allocate(AddressFamily::V6, PortRequest::Any)
                .is_err()
        );
    }
}
