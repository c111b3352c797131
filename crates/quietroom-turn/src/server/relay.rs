//! The seam between the core and the relay sockets.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;

use crate::TurnError;
use crate::stun::AddressFamily;

/// Which relay port an allocation asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortRequest {
    /// Any free port.
    Any,
    /// An even port (EVEN-PORT); with `reserve_next`, the port above it is held too, for a
    /// later allocation that presents the RESERVATION-TOKEN (RTP/RTCP pairs).
    Even {
        /// Hold the next port.
        reserve_next: bool,
    },
    /// Exactly this address, previously held by `Even { reserve_next: true }`.
    Reserved(SocketAddr),
}

/// Hands out relay transport addresses. The core asks for one per allocation (two for a dual
/// IPv4/IPv6 allocation) and gives it back when the allocation ends.
///
/// [`PortPool`] is the default; a driver that must bind sockets wraps one (the tokio driver
/// binds a UDP socket on each address it hands out).
pub trait RelayProvider: Send {
    /// A relay address of `family` satisfying `request`.
    ///
    /// # Errors
    ///
    /// [`TurnError::RelayUnavailable`] when the family is not configured or no port is free.
    fn allocate(
        &mut self,
        family: AddressFamily,
        request: PortRequest,
    ) -> Result<SocketAddr, TurnError>;

    /// Gives back `relay` (an allocation ended, or a reserved port expired unclaimed).
    fn release(&mut self, relay: SocketAddr);
}

/// Relay addresses from configured IPs and a port range, tracking which are in use. It binds
/// nothing itself.
#[derive(Clone, Debug)]
pub struct PortPool {
    v4: Option<IpAddr>,
    v6: Option<IpAddr>,
    ports: RangeInclusive<u16>,
    next: u16,
    used: HashSet<SocketAddr>,
}

impl PortPool {
    /// A pool over `ips` (at most one IPv4 and one IPv6 address are used) and `ports`
    /// (RFC 8656 suggests 49152–65535).
    ///
    /// # Errors
    ///
    /// [`TurnError::Config`] for an empty port range or no IP.
    pub fn new(ips: &[IpAddr], ports: RangeInclusive<u16>) -> Result<Self, TurnError> {
        if ports.is_empty() {
            return Err(TurnError::Config {
                what: "relay port range",
                reason: "the range is empty".into(),
            });
        }
        let v4 = ips.iter().copied().find(IpAddr::is_ipv4);
        let v6 = ips.iter().copied().find(IpAddr::is_ipv6);
        if v4.is_none() && v6.is_none() {
            return Err(TurnError::Config {
                what: "relay addresses",
                reason: "give at least one relay IP".into(),
            });
        }
        Ok(PortPool {
            v4,
            v6,
            next: *ports.start(),
            ports,
            used: HashSet::new(),
        })
    }

    /// Relay addresses in use.
    pub fn in_use(&self) -> usize {
        self.used.len()
    }

    fn ip(&self, family: AddressFamily) -> Result<IpAddr, TurnError> {
        match family {
            AddressFamily::V4 => self.v4,
            AddressFamily::V6 => self.v6,
        }
        .ok_or_else(|| TurnError::RelayUnavailable {
            reason: format!("no relay address of family {family:?} is configured"),
        })
    }

    fn free(&self, ip: IpAddr, port: u16) -> bool {
        self.ports.contains(&port) && !self.used.contains(&SocketAddr::new(ip, port))
    }
}

impl RelayProvider for PortPool {
    fn allocate(
        &mut self,
        family: AddressFamily,
        request: PortRequest,
    ) -> Result<SocketAddr, TurnError> {
        if let PortRequest::Reserved(addr) = request {
            // The port was held when it was reserved; hand it over as it is.
            return if self.used.contains(&addr) {
                Ok(addr)
            } else {
                Err(TurnError::RelayUnavailable {
                    reason: "the reserved port is no longer held".into(),
                })
            };
        }
        let ip = self.ip(family)?;
        let span = u32::from(*self.ports.end()) - u32::from(*self.ports.start()) + 1;
        for _ in 0..span {
            let port = self.next;
            self.next = if port >= *self.ports.end() {
                *self.ports.start()
            } else {
                port + 1
            };
            let ok = match request {
                PortRequest::Any => self.free(ip, port),
                PortRequest::Even { reserve_next } => {
                    port % 2 == 0
                        && self.free(ip, port)
                        && (!reserve_next || port.checked_add(1).is_some_and(|p| self.free(ip, p)))
                }
                PortRequest::Reserved(_) => false,
            };
            if ok {
                self.used.insert(SocketAddr::new(ip, port));
                if let PortRequest::Even { reserve_next: true } = request {
                    self.used.insert(SocketAddr::new(ip, port + 1));
                }
                return Ok(SocketAddr::new(ip, port));
            }
        }
        Err(TurnError::RelayUnavailable {
            reason: "every relay port is in use".into(),
        })
    }

    fn release(&mut self, relay: SocketAddr) {
        self.used.remove(&relay);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn even_ports_reserve_the_next() {
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let mut pool = PortPool::new(&[ip], 50_001..=50_010).unwrap();
        let a = pool
            .allocate(AddressFamily::V4, PortRequest::Even { reserve_next: true })
            .unwrap();
        assert_eq!(a.port() % 2, 0);
        let next = SocketAddr::new(ip, a.port() + 1);
        assert_eq!(
            pool.allocate(AddressFamily::V4, PortRequest::Reserved(next))
                .unwrap(),
            next
        );
        assert!(pool.allocate(AddressFamily::V6, PortRequest::Any).is_err());
        for _ in 0..8 {
            pool.allocate(AddressFamily::V4, PortRequest::Any).unwrap();
        }
        assert!(matches!(
            pool.allocate(AddressFamily::V4, PortRequest::Any),
            Err(TurnError::RelayUnavailable { .. })
        ));
        pool.release(a);
        assert_eq!(
            pool.allocate(AddressFamily::V4, PortRequest::Any).unwrap(),
            a
        );
    }
}
