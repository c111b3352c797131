//! The TURN server core fed arbitrary datagrams: from clients over UDP and TCP, and from
//! peers on a relay address, with time advancing and the alternate server switched on and off. It must never panic, and nothing may be
//! relayed without an allocation.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use quietroom_turn::auth::StaticCredentials;
use quietroom_turn::policy::DefaultPeerPolicy;
use quietroom_turn::server::{FiveTuple, IcmpError, PortPool, Server, ServerConfig, Transport};

fuzz_target!(|data: &[u8]| {
    let mut users = StaticCredentials::new("fuzz");
    users.add("u", "p");
    let Ok(relays) = PortPool::new(&["192.0.2.1".parse().expect("literal")], 50_000..=50_009) else {
        return;
    };
    let start = Instant::now();
    let mut server = Server::new(
        ServerConfig::new("fuzz"),
        Box::new(users),
        Box::new(DefaultPeerPolicy::new()),
        Box::new(relays),
        [1; 32],
        start,
        1_700_000_000,
    );
    let udp = FiveTuple {
        transport: Transport::Udp,
        client: "203.0.113.1:4000".parse().expect("literal"),
        server: "192.0.2.1:3478".parse().expect("literal"),
    };
    let tcp = FiveTuple { transport: Transport::Tcp, ..udp };
    let mut now = start;
    let mut rest = data;
    while let [selector, len, tail @ ..] = rest {
        let (datagram, next) = tail.split_at(usize::from(*len).min(tail.len()));
        rest = next;
        now += Duration::from_millis(u64::from(selector >> 3) * 50);
        // Draining or not: new allocations redirected to an alternate server.
        if selector & 4 != 0 {
            let alternates = if len & 1 == 0 { Vec::new() } else { vec!["198.51.100.7:3478".parse().expect("literal")] };
            server.set_alternate_servers(alternates);
        }
        let (relay, peer) = ("192.0.2.1:50000".parse().expect("literal"), "8.8.8.8:9".parse().expect("literal"));
        match selector % 4 {
            0 => server.handle_client(now, udp, datagram),
            1 => server.handle_client(now, tcp, datagram),
            2 => server.handle_peer(now, relay, peer, datagram),
            // An ICMP error the driver read for what the relay sent.
            _ => {
                if let [t, c, m0, m1, ..] = *datagram {
                    let icmp = IcmpError { v6: t & 0x80 != 0, icmp_type: t & 0x7F, code: c, mtu: u32::from(u16::from_be_bytes([m0, m1])) };
                    server.handle_icmp(now, relay, peer, icmp);
                }
            }
        }
        server.handle_timeout(now);
        while let Some(t) = server.poll_transmit() {
            server.recycle(t.data);
        }
        while server.poll_event().is_some() {}
    }
    assert_eq!(server.stats().relayed_to_peers, 0, "nothing relayed without credentials");
});
