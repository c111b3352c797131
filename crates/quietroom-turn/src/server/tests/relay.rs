//! Relaying, the peer policy, and the limits on unverified sources.

use super::*;

#[test]
fn permissions_channels_and_relaying() {
    let mut h = harness();
    let t = udp("203.0.113.9:40000");
    let relay = relayed(&h.allocate(t, "alice"));
    let peer = addr(PEER);

    // Without a permission nothing is relayed either way.
    send_indication(&mut h, t, peer, b"early");
    assert!(h.drain().is_empty());
    h.server.handle_peer(h.now, relay, peer, b"unsolicited");
    assert!(h.drain().is_empty());

    let p = h.request(t, Method::CREATE_PERMISSION, "alice", "secret", &move |b| {
        b.add_xor_address(attr::XOR_PEER_ADDRESS, peer);
    });
    assert_eq!(p.class, Class::Success, "code {:?}", p.code);

    send_indication(&mut h, t, peer, b"hello peer");
    let out = h.drain();
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].destination,
        Destination::Peer {
            relay,
            peer,
            dont_fragment: false
        }
    );
    assert_eq!(out[0].data, b"hello peer");

    h.server.handle_peer(h.now, relay, peer, b"hello client");
    let out = h.drain();
    let m = Message::parse(&out[0].data).unwrap();
    assert_eq!((m.class(), m.method()), (Class::Indication, Method::DATA));
    assert_eq!(m.data(), Some(&b"hello client"[..]));
    assert_eq!(m.xor_address(attr::XOR_PEER_ADDRESS).unwrap(), Some(peer));

    // A channel: ChannelData both ways.
    let c = h.request(t, Method::CHANNEL_BIND, "alice", "secret", &move |b| {
        b.add_channel_number(0x4001)
            .add_xor_address(attr::XOR_PEER_ADDRESS, peer);
    });
    assert_eq!(c.class, Class::Success);
    let mut cd = Vec::new();
    stun::ChannelData::encode(0x4001, b"via channel", false, &mut cd);
    h.server.handle_client(h.now, t, &cd);
    assert_eq!(h.drain()[0].data, b"via channel");
    h.server.handle_peer(h.now, relay, peer, b"back");
    let out = h.drain();
    let (back, _) = stun::ChannelData::parse(&out[0].data, false).unwrap();
    assert_eq!((back.channel, back.data), (0x4001, &b"back"[..]));
    assert_eq!(h.server.stats().relayed_to_peers, 2);
    assert_eq!(h.server.stats().relayed_to_clients, 2);

    // Channel errors.
    let bad = h.request(t, Method::CHANNEL_BIND, "alice", "secret", &move |b| {
        b.add_channel_number(0x3FFF)
            .add_xor_address(attr::XOR_PEER_ADDRESS, peer);
    });
    assert_eq!(bad.code, Some(400), "channel number out of range");
    // RFC 5766's wider range is accepted by default (coturn's clients use it)…
    let legacy = h.request(t, Method::CHANNEL_BIND, "alice", "secret", &move |b| {
        b.add_channel_number(0x6FB7)
            .add_xor_address(attr::XOR_PEER_ADDRESS, "1.0.0.1:9".parse().unwrap());
    });
    assert_eq!(legacy.class, Class::Success);
    let beyond = h.request(t, Method::CHANNEL_BIND, "alice", "secret", &move |b| {
        b.add_channel_number(0x8000)
            .add_xor_address(attr::XOR_PEER_ADDRESS, peer);
    });
    assert_eq!(beyond.code, Some(400));
    let other: SocketAddr = "1.1.1.1:9".parse().unwrap();
    let rebind = h.request(t, Method::CHANNEL_BIND, "alice", "secret", &move |b| {
        b.add_channel_number(0x4001)
            .add_xor_address(attr::XOR_PEER_ADDRESS, other);
    });
    assert_eq!(rebind.code, Some(400), "channel bound to another peer");

    // Permissions expire after 300 s (the channel refreshed it at bind time).
    h.now += Duration::from_secs(301);
    h.server.handle_peer(h.now, relay, peer, b"too late");
    assert!(h.drain().is_empty());
}

#[test]
fn strict_rfc8656_channel_range() {
    let mut config = config();
    config.rfc5766_channels = false;
    let mut h = harness_with(config, &[RELAY_V4]);
    let t = udp("203.0.113.9:40000");
    h.allocate(t, "alice");
    let peer = addr(PEER);
    let a = h.request(t, Method::CHANNEL_BIND, "alice", "secret", &move |b| {
        b.add_channel_number(0x5000)
            .add_xor_address(attr::XOR_PEER_ADDRESS, peer);
    });
    assert_eq!(a.code, Some(400));
    let a = h.request(t, Method::CHANNEL_BIND, "alice", "secret", &move |b| {
        b.add_channel_number(0x4FFF)
            .add_xor_address(attr::XOR_PEER_ADDRESS, peer);
    });
    assert_eq!(a.class, Class::Success);
}

#[test]
fn shutdown_ends_everything() {
    let mut h = harness();
    h.allocate(udp("203.0.113.9:40000"), "alice");
    h.request(
        udp("203.0.113.9:40001"),
        Method::ALLOCATE,
        "bob",
        "hunter2",
        &|b| {
            b.add_requested_transport(17).add_even_port(true);
        },
    );
    while h.server.poll_event().is_some() {}
    h.server.shutdown();
    assert_eq!(h.server.allocation_count(), 0);
    let ended = std::iter::from_fn(|| h.server.poll_event())
        .filter(|e| {
            matches!(
                e,
                TurnEvent::AllocationEnded {
                    reason: EndReason::Shutdown,
                    ..
                }
            )
        })
        .count();
    assert_eq!(ended, 2);
}

#[test]
fn channel_data_is_padded_on_stream_transports() {
    let mut h = harness();
    let t = FiveTuple {
        transport: Transport::Tcp,
        ..udp("203.0.113.9:40000")
    };
    let relay = relayed(&h.allocate(t, "alice"));
    let peer = addr(PEER);
    h.request(t, Method::CHANNEL_BIND, "alice", "secret", &move |b| {
        b.add_channel_number(0x4ABC)
            .add_xor_address(attr::XOR_PEER_ADDRESS, peer);
    });
    h.server.handle_peer(h.now, relay, peer, b"odd");
    let out = h.drain();
    assert_eq!(out[0].data.len(), 8, "4-byte header + 3 bytes + 1 padding");
    h.server.connection_closed(t);
    assert_eq!(h.server.allocation_count(), 0);
}

fn send_indication(h: &mut Harness, t: FiveTuple, peer: SocketAddr, data: &[u8]) {
    let tid = h.tid();
    let mut buf = Vec::new();
    let mut b = MessageBuilder::new(&mut buf, Class::Indication, Method::SEND, tid);
    b.add_xor_address(attr::XOR_PEER_ADDRESS, peer)
        .add_raw(attr::DATA, data);
    b.finish();
    h.server.handle_client(h.now, t, &buf);
}

#[test]
fn refused_peers_get_403_and_no_packet_leaves() {
    let mut h = harness();
    let t = udp("203.0.113.9:40000");
    let relay = relayed(&h.allocate(t, "alice"));
    let _ = h.server.poll_event();
    let refused = [
        "10.0.0.1:5000",
        "172.16.0.1:5000",
        "192.168.1.1:5000",
        "100.64.0.1:5000",
        "169.254.169.254:80",
        "0.0.0.0:5000",
        "224.0.0.1:5000",
        "255.255.255.255:5000",
        "192.0.2.1:5000",
        "[::ffff:10.0.0.1]:5000",
        "[::ffff:169.254.169.254]:80",
        "[64:ff9b::a00:1]:5000",
        "[2002:a00:1::1]:5000",
        "[::1]:5000",
        "[fe80::1]:5000",
        "[fd00::1]:5000",
        SERVER, // the server's own listening address, even though 127/8 rules don't apply
        "127.0.0.1:3478", // allowed IP, but…
    ];
    let mut policy_refusals = 0;
    for peer in refused {
        let peer = addr(peer);
        let same_family = peer.is_ipv4();
        let a = h.request(t, Method::CREATE_PERMISSION, "alice", "secret", &move |b| {
            b.add_xor_address(attr::XOR_PEER_ADDRESS, peer);
        });
        if !same_family {
            assert_eq!(a.code, Some(443), "{peer}: IPv6 peer on an IPv4 relay");
            continue;
        }
        if peer == addr("127.0.0.1:3478") {
            // 127.0.0.1 is explicitly allowed for tests; the port is not ours, so it passes.
            assert_eq!(a.class, Class::Success);
            continue;
        }
        assert_eq!(a.code, Some(403), "{peer} must be refused");
        policy_refusals += 1;
        assert!(matches!(
            h.server.poll_event(),
            Some(TurnEvent::PeerRefused { .. })
        ));
        send_indication(&mut h, t, peer, b"probe");
        assert!(h.drain().is_empty(), "{peer}: nothing may leave");
    }
    assert!(policy_refusals >= 10);
    // The relay's own address is refused too.
    let a = h.request(t, Method::CREATE_PERMISSION, "alice", "secret", &move |b| {
        b.add_xor_address(attr::XOR_PEER_ADDRESS, relay);
    });
    assert_eq!(a.code, Some(403));

    // IPv6 peers on a dual allocation go through the same policy.
    let t6 = udp("203.0.113.9:40001");
    let dual = h.request(t6, Method::ALLOCATE, "alice", "secret", &|b| {
        b.add_requested_transport(17)
            .add_address_family(attr::ADDITIONAL_ADDRESS_FAMILY, AddressFamily::V6);
    });
    assert_eq!(dual.class, Class::Success);
    for peer in [
        "[::ffff:127.0.0.2]:1",
        "[::1]:1",
        "[fe80::1]:1",
        "[64:ff9b::7f00:1]:1",
        "[2002:7f00:1::1]:1",
    ] {
        let peer = addr(peer);
        let a = h.request(
            t6,
            Method::CREATE_PERMISSION,
            "alice",
            "secret",
            &move |b| {
                b.add_xor_address(attr::XOR_PEER_ADDRESS, peer);
            },
        );
        assert_eq!(a.code, Some(403), "{peer} must be refused");
    }
}

#[test]
fn unverified_sources_are_rate_limited_and_not_amplified() {
    let mut config = config();
    config.unauthenticated_burst = 3;
    config.unauthenticated_rate = 1;
    let mut h = harness_with(config, &[RELAY_V4]);
    let t = udp("203.0.113.9:40000");
    let mut answered = 0;
    for _ in 0..10 {
        let tid = h.tid();
        let mut buf = Vec::new();
        MessageBuilder::new(&mut buf, Class::Request, Method::BINDING, tid).finish();
        if h.send(t, &buf).is_some() {
            answered += 1;
        }
    }
    assert_eq!(answered, 3, "burst of 3, then silence");
    assert_eq!(h.server.stats().rate_limited, 7);

    // An error bigger than its request is not sent to an unverified UDP source.
    h.now += Duration::from_secs(10);
    let tid = h.tid();
    let mut buf = Vec::new();
    let mut b = MessageBuilder::new(&mut buf, Class::Request, Method::ALLOCATE, tid);
    b.add_raw(0x7F00, &[]);
    b.finish();
    assert!(h.send(t, &buf).is_none());
    assert_eq!(h.server.stats().amplification_dropped, 1);

    // Strict mode: not even the challenge, when it is larger than the request.
    let mut config = self::config();
    config.amplification = Amplification::Strict;
    let mut h = harness_with(config, &[RELAY_V4]);
    let tid = h.tid();
    let mut buf = Vec::new();
    let mut b = MessageBuilder::new(&mut buf, Class::Request, Method::ALLOCATE, tid);
    b.add_requested_transport(17);
    b.finish();
    assert!(h.send(t, &buf).is_none());
}

#[test]
fn retransmitted_allocate_gets_the_same_answer() {
    let mut h = harness();
    let t = udp("203.0.113.9:40000");
    let first = h.request(t, Method::ALLOCATE, "", "", &|b| {
        b.add_requested_transport(17);
    });
    let nonce = first.msg().nonce().unwrap().unwrap().to_owned();
    let key = LongTermKey::derive("alice", REALM, "secret");
    let mut buf = Vec::new();
    let mut b = MessageBuilder::new(
        &mut buf,
        Class::Request,
        Method::ALLOCATE,
        TransactionId([9; 12]),
    );
    b.add_requested_transport(17)
        .add_str(attr::USERNAME, "alice")
        .add_str(attr::REALM, REALM)
        .add_str(attr::NONCE, &nonce)
        .add_message_integrity(&key.md5);
    b.finish();
    let one = h.send(t, &buf).unwrap();
    let two = h.send(t, &buf).unwrap();
    assert_eq!(one.class, Class::Success);
    assert_eq!(one.bytes, two.bytes);
}

#[test]
fn sha256_password_algorithm() {
    let mut h = harness();
    let t = udp("203.0.113.9:40000");
    let first = h.request(t, Method::ALLOCATE, "", "", &|b| {
        b.add_requested_transport(17);
    });
    let m = first.msg();
    let nonce = m.nonce().unwrap().unwrap().to_owned();
    assert!(m.password_algorithms().unwrap().is_some());
    let key = LongTermKey::derive("alice", REALM, "secret");
    let mut buf = Vec::new();
    let mut b = MessageBuilder::new(
        &mut buf,
        Class::Request,
        Method::ALLOCATE,
        TransactionId([3; 12]),
    );
    b.add_requested_transport(17)
        .add_str(attr::USERNAME, "alice")
        .add_str(attr::REALM, REALM)
        .add_str(attr::NONCE, &nonce)
        .add_password_algorithms(&[(0x0001, &[]), (0x0002, &[])])
        .add_raw(attr::PASSWORD_ALGORITHM, &[0, 2, 0, 0])
        .add_message_integrity_sha256(&key.sha256);
    b.finish();
    let a = h.send(t, &buf).unwrap();
    assert_eq!(a.class, Class::Success, "code {:?}", a.code);
    assert_eq!(
        a.msg()
            .check_integrity(&key.sha256, Some(&key.sha256))
            .unwrap(),
        crate::stun::IntegrityKind::Sha256
    );
}

proptest! {
    /// Malformed-input injection: arbitrary bytes, as datagrams or stream frames from clients
    /// and as datagrams on relay addresses, never panic and never create state.
    #[test]
    fn garbage_never_panics(inputs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 1..30)) {
        let mut h = harness();
        let tcp = FiveTuple { transport: Transport::Tcp, ..udp("203.0.113.9:40000") };
        for input in &inputs {
            h.server.handle_client(h.now, udp("203.0.113.9:40000"), input);
            h.server.handle_client(h.now, tcp, input);
            h.server.handle_peer(h.now, addr("198.51.100.1:50000"), addr(PEER), input);
            h.now += Duration::from_millis(10);
            h.server.handle_timeout(h.now);
            while let Some(t) = h.server.poll_transmit() {
                h.server.recycle(t.data);
            }
        }
        prop_assert_eq!(h.server.allocation_count(), 0);
    }
}

#[test]
fn icmp_errors_reach_the_client_of_a_permitted_peer() {
    let mut h = harness();
    let t = udp("203.0.113.9:40000");
    let relay = relayed(&h.allocate(t, "alice"));
    let peer = addr(PEER);
    let unreachable = IcmpError {
        v6: false,
        icmp_type: 3,
        code: 3,
        mtu: 0,
    };

    // No permission for the peer: dropped.
    h.server.handle_icmp(h.now, relay, peer, unreachable);
    assert!(h.drain().is_empty());
    assert_eq!(h.server.stats().icmp_dropped, 1);

    let p = h.request(t, Method::CREATE_PERMISSION, "alice", "secret", &move |b| {
        b.add_xor_address(attr::XOR_PEER_ADDRESS, peer);
    });
    assert_eq!(p.class, Class::Success);

    // Port unreachable: a Data indication with XOR-PEER-ADDRESS and ICMP, no DATA.
    h.server.handle_icmp(h.now, relay, peer, unreachable);
    let out = h.drain();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].destination, Destination::Client(t));
    let m = Message::parse(&out[0].data).unwrap();
    assert_eq!((m.class(), m.method()), (Class::Indication, Method::DATA));
    assert_eq!(m.xor_address(attr::XOR_PEER_ADDRESS).unwrap(), Some(peer));
    assert_eq!(m.icmp().unwrap(), Some((3, 3, 0)));
    assert_eq!(m.data(), None);

    // Fragmentation needed carries the MTU; ICMPv6 packet too big too; other types' data
    // is zero.
    let frag = IcmpError {
        code: 4,
        mtu: 1280,
        ..unreachable
    };
    h.server.handle_icmp(h.now, relay, peer, frag);
    let out = h.drain();
    assert_eq!(
        Message::parse(&out[0].data).unwrap().icmp().unwrap(),
        Some((3, 4, 1280))
    );
    let exceeded = IcmpError {
        icmp_type: 11,
        code: 0,
        mtu: 1280,
        ..unreachable
    };
    assert_eq!(exceeded.attribute_value(), [0, 0, 11, 0, 0, 0, 0, 0]);
    let too_big = IcmpError {
        v6: true,
        icmp_type: 2,
        code: 0,
        mtu: 1400,
    };
    assert_eq!(too_big.attribute_value()[4..], 1400u32.to_be_bytes());

    // Types RFC 8656 §11.5 does not pass on (an echo reply; ICMPv6 type 4 parameter
    // problem), and an unknown relay address: dropped.
    for (v6, icmp_type) in [(false, 0), (false, 5), (true, 4), (true, 128)] {
        let other = IcmpError {
            v6,
            icmp_type,
            code: 0,
            mtu: 0,
        };
        assert!(!other.is_relayed());
        h.server.handle_icmp(h.now, relay, peer, other);
    }
    assert_ne!(relay, addr("192.0.2.1:1"));
    h.server
        .handle_icmp(h.now, addr("192.0.2.1:1"), peer, unreachable);
    assert!(h.drain().is_empty());
    assert_eq!(h.server.stats().icmp_relayed, 2);
    assert_eq!(h.server.stats().icmp_dropped, 6);
}
