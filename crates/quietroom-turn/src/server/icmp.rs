//! ICMP errors for relayed datagrams (RFC 8656 §11.5): when a datagram a relay address sent
//! to a peer draws an ICMP error (the peer's port is closed, the peer is unreachable, the
//! datagram was too big), the client that owns the allocation hears of it in a Data
//! indication carrying XOR-PEER-ADDRESS and the ICMP attribute (§18.13), so that, for
//! example, ICE can stop using that path at once.

use std::net::SocketAddr;
use std::time::Instant;

use super::{Destination, Server, Transmit, indication_tid};
use crate::stun::{self, Class, MessageBuilder, Method};

/// An ICMP error the network returned for a datagram sent from a relay address, as the
/// driver read it (on Linux, from the relay socket's error queue with `IP_RECVERR`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IcmpError {
    /// ICMPv6 (else ICMPv4).
    pub v6: bool,
    /// The ICMP type.
    pub icmp_type: u8,
    /// The ICMP code.
    pub code: u8,
    /// For "fragmentation needed" (ICMPv4 type 3 code 4) and "packet too big" (ICMPv6 type
    /// 2): the next hop's MTU. Ignored otherwise (the attribute then carries zero).
    pub mtu: u32,
}

impl IcmpError {
    /// Whether RFC 8656 §11.5 has the server pass it on: ICMPv4 destination unreachable (3)
    /// and time exceeded (11); ICMPv6 destination unreachable (1), packet too big (2) and
    /// time exceeded (3). Others are dropped.
    pub fn is_relayed(&self) -> bool {
        if self.v6 {
            matches!(self.icmp_type, 1..=3)
        } else {
            matches!(self.icmp_type, 3 | 11)
        }
    }

    /// The ICMP attribute's value: two reserved bytes, the type, the code, and the error
    /// data (the MTU where one applies, else zero).
    pub fn attribute_value(&self) -> [u8; 8] {
        let carries_mtu = if self.v6 {
            self.icmp_type == 2
        } else {
            self.icmp_type == 3 && self.code == 4
        };
        let data = if carries_mtu { self.mtu } else { 0 };
        let mut value = [0u8; 8];
        value[2] = self.icmp_type;
        value[3] = self.code;
        value[4..].copy_from_slice(&data.to_be_bytes());
        value
    }
}

impl Server {
    /// An ICMP error arrived for a datagram relay address `relay` sent to `peer`. The client
    /// of that allocation gets a Data indication with XOR-PEER-ADDRESS and ICMP (no DATA)
    /// when the error is one RFC 8656 §11.5 passes on and the peer still has a permission;
    /// otherwise it is dropped and counted in [`ServerStats::icmp_dropped`].
    ///
    /// [`ServerStats::icmp_dropped`]: super::ServerStats::icmp_dropped
    pub fn handle_icmp(
        &mut self,
        now: Instant,
        relay: SocketAddr,
        peer: SocketAddr,
        icmp: IcmpError,
    ) {
        let permitted = self
            .by_relay
            .get(&relay)
            .and_then(|tuple| self.allocations.get(tuple).map(|a| (*tuple, a)))
            .filter(|(_, a)| icmp.is_relayed() && a.has_permission(now, peer.ip()))
            .map(|(tuple, _)| tuple);
        let Some(tuple) = permitted else {
            self.stats.icmp_dropped += 1;
            return;
        };
        let mut buf = self.buffer();
        self.next_tid += 1;
        let tid = indication_tid(self.next_tid);
        let mut b = MessageBuilder::new(&mut buf, Class::Indication, Method::DATA, tid);
        b.add_xor_address(stun::attr::XOR_PEER_ADDRESS, peer)
            .add_raw(stun::attr::ICMP, &icmp.attribute_value());
        b.finish();
        self.stats.icmp_relayed += 1;
        self.transmits.push_back(Transmit {
            destination: Destination::Client(tuple),
            data: buf,
        });
    }
}
