//! The default peer policy: every refused address form, explicit allows and denies, CIDR
//! parsing errors, and properties over arbitrary addresses.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use quietroom_turn::TurnError;
use quietroom_turn::policy::{Cidr, DefaultPeerPolicy, PeerPolicy};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn cidr(s: &str) -> Cidr {
    s.parse().unwrap()
}

#[track_caller]
fn assert_refused(policy: &DefaultPeerPolicy, addr: &str) {
    let reason = policy.refusal(ip(addr));
    assert!(reason.is_some(), "{addr} should be refused");
    assert!(!policy.permits(ip(addr)), "{addr} should not be permitted");
}

#[track_caller]
fn assert_permitted(policy: &DefaultPeerPolicy, addr: &str) {
    assert_eq!(policy.refusal(ip(addr)), None, "{addr} should be permitted");
    assert!(policy.permits(ip(addr)), "{addr} should be permitted");
}

#[track_caller]
fn assert_reason_mentions(policy: &DefaultPeerPolicy, addr: &str, needle: &str) {
    match policy.refusal(ip(addr)) {
        Some(reason) => assert!(
            reason.contains(needle),
            "{addr}: reason {reason:?} should mention {needle:?}"
        ),
        None => panic!("{addr} should be refused ({needle})"),
    }
}

// ---- IPv4 built-in refusals, one per range ----

#[test]
fn v4_this_network() {
    let p = DefaultPeerPolicy::new();
    assert_reason_mentions(&p, "0.0.0.0", "0.0.0.0/8");
    assert_reason_mentions(&p, "0.255.255.255", "0.0.0.0/8");
}

#[test]
fn v4_rfc1918() {
    let p = DefaultPeerPolicy::new();
    assert_reason_mentions(&p, "10.0.0.1", "10.0.0.0/8");
    assert_reason_mentions(&p, "10.255.255.255", "10.0.0.0/8");
    assert_reason_mentions(&p, "172.16.0.1", "172.16.0.0/12");
    assert_reason_mentions(&p, "172.31.255.254", "172.16.0.0/12");
    assert_reason_mentions(&p, "192.168.1.1", "192.168.0.0/16");
    assert_permitted(&p, "172.32.0.1");
    assert_permitted(&p, "172.15.255.255");
    assert_permitted(&p, "11.0.0.1");
}

#[test]
fn v4_shared_address_space() {
    let p = DefaultPeerPolicy::new();
    assert_reason_mentions(&p, "100.64.0.1", "100.64.0.0/10");
    assert_reason_mentions(&p, "100.127.255.255", "100.64.0.0/10");
    assert_permitted(&p, "100.128.0.1");
}

#[test]
fn v4_loopback() {
    let p = DefaultPeerPolicy::new();
    assert_reason_mentions(&p, "127.0.0.1", "loopback");
    assert_reason_mentions(&p, "127.255.255.254", "loopback");
}

#[test]
fn v4_link_local_and_metadata() {
    let p = DefaultPeerPolicy::new();
    assert_reason_mentions(&p, "169.254.169.254", "metadata");
    assert_reason_mentions(&p, "169.254.0.1", "169.254.0.0/16");
}

#[test]
fn v4_ietf_protocol_assignments() {
    let p = DefaultPeerPolicy::new();
    assert_reason_mentions(&p, "192.0.0.8", "192.0.0.0/24");
}

#[test]
fn v4_documentation() {
    let p = DefaultPeerPolicy::new();
    assert_reason_mentions(&p, "192.0.2.1", "192.0.2.0/24");
    assert_reason_mentions(&p, "198.51.100.7", "198.51.100.0/24");
    assert_reason_mentions(&p, "203.0.113.200", "203.0.113.0/24");
}

#[test]
fn v4_benchmarking() {
    let p = DefaultPeerPolicy::new();
    assert_reason_mentions(&p, "198.18.0.1", "198.18.0.0/15");
    assert_reason_mentions(&p, "198.19.255.255", "198.18.0.0/15");
    assert_permitted(&p, "198.20.0.1");
}

#[test]
fn v4_multicast() {
    let p = DefaultPeerPolicy::new();
    assert_reason_mentions(&p, "224.0.0.1", "multicast");
    assert_reason_mentions(&p, "239.255.255.250", "multicast");
}

#[test]
fn v4_reserved_and_broadcast() {
    let p = DefaultPeerPolicy::new();
    assert_reason_mentions(&p, "240.0.0.1", "240.0.0.0/4");
    assert_reason_mentions(&p, "255.255.255.255", "broadcast");
}

// ---- IPv6 built-in refusals ----

#[test]
fn v6_unspecified() {
    assert_reason_mentions(&DefaultPeerPolicy::new(), "::", "unspecified");
}

#[test]
fn v6_loopback() {
    assert_reason_mentions(&DefaultPeerPolicy::new(), "::1", "loopback");
}

#[test]
fn v6_link_local() {
    assert_reason_mentions(&DefaultPeerPolicy::new(), "fe80::1", "fe80::/10");
    assert_reason_mentions(&DefaultPeerPolicy::new(), "febf::1", "fe80::/10");
}

#[test]
fn v6_site_local() {
    assert_reason_mentions(&DefaultPeerPolicy::new(), "fec0::1", "fec0::/10");
}

#[test]
fn v6_unique_local() {
    assert_reason_mentions(&DefaultPeerPolicy::new(), "fd00::1", "fc00::/7");
    assert_reason_mentions(&DefaultPeerPolicy::new(), "fc00::1", "fc00::/7");
}

#[test]
fn v6_multicast() {
    assert_reason_mentions(&DefaultPeerPolicy::new(), "ff02::1", "ff00::/8");
    assert_reason_mentions(&DefaultPeerPolicy::new(), "ff0e::1", "ff00::/8");
}

#[test]
fn v6_documentation() {
    assert_reason_mentions(&DefaultPeerPolicy::new(), "2001:db8::1", "2001:db8::/32");
}

#[test]
fn v6_discard() {
    assert_reason_mentions(&DefaultPeerPolicy::new(), "100::1", "100::/64");
}

#[test]
fn v6_benchmarking() {
    assert_reason_mentions(&DefaultPeerPolicy::new(), "2001:2::1", "2001:2::/48");
}

#[test]
fn v6_outside_global_unicast() {
    let p = DefaultPeerPolicy::new();
    assert_reason_mentions(&p, "4000::1", "2000::/3");
    assert_reason_mentions(&p, "e000::1", "2000::/3");
    assert_reason_mentions(&p, "200::1", "2000::/3");
}

// ---- IPv4 hidden in IPv6 (CVE-2020-26262 class) ----

#[test]
fn v4_mapped_refused_forms() {
    let p = DefaultPeerPolicy::new();
    assert_reason_mentions(&p, "::ffff:127.0.0.1", "loopback");
    assert_reason_mentions(&p, "::ffff:10.0.0.1", "10.0.0.0/8");
    assert_reason_mentions(&p, "::ffff:169.254.169.254", "metadata");
    assert_reason_mentions(&p, "::ffff:0.0.0.0", "0.0.0.0/8");
    assert_reason_mentions(&p, "::ffff:255.255.255.255", "broadcast");
}

#[test]
fn v4_compatible_refused() {
    let p = DefaultPeerPolicy::new();
    assert_reason_mentions(&p, "::127.0.0.1", "IPv4-compatible");
    assert_reason_mentions(&p, "::10.0.0.1", "IPv4-compatible");
    // Refused entirely, even for a global IPv4 address.
    assert_reason_mentions(&p, "::8.8.8.8", "IPv4-compatible");
}

#[test]
fn nat64_well_known_prefix() {
    let p = DefaultPeerPolicy::new();
    assert_reason_mentions(&p, "64:ff9b::a00:1", "NAT64"); // 10.0.0.1
    assert_reason_mentions(&p, "64:ff9b::7f00:1", "NAT64"); // 127.0.0.1
    assert_reason_mentions(&p, "64:ff9b::a9fe:a9fe", "NAT64"); // 169.254.169.254
    assert_permitted(&p, "64:ff9b::808:808"); // 8.8.8.8
}

#[test]
fn nat64_local_use_prefix() {
    let p = DefaultPeerPolicy::new();
    assert_reason_mentions(&p, "64:ff9b:1::808:808", "64:ff9b:1::/48");
    assert_reason_mentions(&p, "64:ff9b:1:ffff::1", "64:ff9b:1::/48");
}

#[test]
fn six_to_four() {
    let p = DefaultPeerPolicy::new();
    assert_reason_mentions(&p, "2002:7f00:1::1", "6to4"); // 127.0.0.1
    assert_reason_mentions(&p, "2002:a00:1::", "6to4"); // 10.0.0.1
    assert_reason_mentions(&p, "2002:a9fe:a9fe::1", "6to4"); // 169.254.169.254
    assert_permitted(&p, "2002:808:808::1"); // 8.8.8.8
}

#[test]
fn teredo_refused_entirely() {
    let p = DefaultPeerPolicy::new();
    assert_reason_mentions(&p, "2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo");
    assert_reason_mentions(&p, "2001::1", "Teredo");
    // Just outside Teredo.
    assert_permitted(&p, "2001:1::1:1");
}

#[test]
fn isatap_interface_identifier() {
    let p = DefaultPeerPolicy::new();
    assert_reason_mentions(&p, "2606:4700:1::5efe:a00:1", "ISATAP"); // 10.0.0.1
    assert_reason_mentions(&p, "2606:4700:1::200:5efe:7f00:1", "ISATAP"); // 127.0.0.1
    assert_permitted(&p, "2606:4700:1::5efe:808:808"); // 8.8.8.8
}

// ---- Allowed by default ----

#[test]
fn public_addresses_allowed() {
    let p = DefaultPeerPolicy::new();
    for addr in [
        "8.8.8.8",
        "1.1.1.1",
        "2606:4700::1111",
        "2a00:1450:4001:80b::200e",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
    ] {
        assert_permitted(&p, addr);
    }
}

// ---- Explicit allows and denies ----

#[test]
fn explicit_allow_of_loopback_host() {
    let mut p = DefaultPeerPolicy::new();
    p.allow(cidr("127.0.0.1/32"));
    assert_permitted(&p, "127.0.0.1");
    assert_permitted(&p, "::ffff:127.0.0.1"); // the same host
    assert_refused(&p, "127.0.0.2");
    assert_refused(&p, "::ffff:127.0.0.2");
    // Other embeddings reach other machines: not covered by an IPv4 allow.
    assert_refused(&p, "64:ff9b::7f00:1");
    assert_refused(&p, "2002:7f00:1::1");
    assert_refused(&p, "::127.0.0.1");
}

#[test]
fn explicit_allow_of_private_range() {
    let mut p = DefaultPeerPolicy::new();
    p.allow(cidr("10.1.0.0/16")).allow(cidr("fd00:1::/32"));
    assert_permitted(&p, "10.1.2.3");
    assert_refused(&p, "10.2.0.1");
    assert_permitted(&p, "fd00:1::5");
    assert_refused(&p, "fd00:2::5");
    // A mapped-form allow applies to the IPv4 spelling too.
    let mut q = DefaultPeerPolicy::new();
    q.allow(cidr("::ffff:192.168.0.0/112"));
    assert_permitted(&q, "192.168.4.4");
    assert_permitted(&q, "::ffff:192.168.4.4");
    assert_refused(&q, "10.0.0.1");
}

#[test]
fn explicit_deny_beats_allow() {
    let mut p = DefaultPeerPolicy::new();
    p.allow(cidr("8.8.8.0/24")).deny(cidr("8.8.8.0/24"));
    assert_reason_mentions(&p, "8.8.8.8", "explicitly denied");
    assert_refused(&p, "::ffff:8.8.8.8");
    assert_permitted(&p, "8.8.4.4");

    // Order of calls does not matter.
    let mut q = DefaultPeerPolicy::new();
    q.deny(cidr("8.8.8.0/24")).allow(cidr("8.8.8.8/32"));
    assert_refused(&q, "8.8.8.8");
}

#[test]
fn explicit_deny_reaches_embedded_ipv4() {
    let mut p = DefaultPeerPolicy::new();
    p.deny(cidr("8.8.8.0/24"));
    assert_refused(&p, "8.8.8.8");
    assert_refused(&p, "::ffff:8.8.8.8");
    assert_refused(&p, "64:ff9b::808:808");
    assert_refused(&p, "2002:808:808::1");
    assert_refused(&p, "2606:4700:1::5efe:808:808");
    assert_permitted(&p, "2606:4700::1111");

    let mut v6 = DefaultPeerPolicy::new();
    v6.deny(cidr("2606:4700::/32"));
    assert_refused(&v6, "2606:4700::1111");
    assert_permitted(&v6, "2607::1");
}

#[test]
fn wide_ipv6_ranges_do_not_match_ipv4_peers() {
    let mut p = DefaultPeerPolicy::new();
    p.deny(cidr("::/0"));
    assert_refused(&p, "2606:4700::1111");
    assert_permitted(&p, "8.8.8.8");
    assert_permitted(&p, "::ffff:8.8.8.8"); // an IPv4 peer

    let mut q = DefaultPeerPolicy::new();
    q.allow(cidr("::/0"));
    assert_permitted(&q, "fd00::1");
    assert_refused(&q, "::ffff:127.0.0.1");
    assert_refused(&q, "127.0.0.1");
}

#[test]
fn mapped_ranges_are_ipv4_ranges() {
    let mut p = DefaultPeerPolicy::new();
    p.deny(cidr("::ffff:8.8.8.0/120"));
    assert_refused(&p, "8.8.8.8");
    assert_refused(&p, "::ffff:8.8.8.8");
    assert_refused(&p, "64:ff9b::808:808");
    assert_permitted(&p, "8.8.4.4");
}

#[test]
fn explicit_deny_overrides_explicit_allow_of_builtin_refusal() {
    let mut p = DefaultPeerPolicy::new();
    p.allow(cidr("10.0.0.0/8")).deny(cidr("10.0.0.5/32"));
    assert_permitted(&p, "10.0.0.4");
    assert_refused(&p, "10.0.0.5");
    assert_refused(&p, "::ffff:10.0.0.5");
}

#[test]
fn accessors_and_trait_objects() {
    let mut p = DefaultPeerPolicy::default();
    p.allow(cidr("10.0.0.0/8")).deny(cidr("8.8.8.8"));
    assert_eq!(p.allowed(), &[cidr("10.0.0.0/8")]);
    assert_eq!(p.denied(), &[cidr("8.8.8.8/32")]);
    let boxed: Box<dyn PeerPolicy> = Box::new(p);
    assert!(boxed.permits(ip("10.1.1.1")));
    assert!(!boxed.permits(ip("8.8.8.8")));
}

// ---- CIDR parsing ----

#[test]
fn cidr_parsing() {
    assert_eq!(cidr("10.0.0.0/8").to_string(), "10.0.0.0/8");
    assert_eq!(cidr("10.0.0.1/8"), cidr("10.0.0.0/8")); // host bits masked
    assert_eq!(cidr("2001:db8::/32").to_string(), "2001:db8::/32");
    assert_eq!(cidr("127.0.0.1").to_string(), "127.0.0.1/32");
    assert_eq!(cidr("::1").to_string(), "::1/128");
    assert!(cidr("10.0.0.0/8").contains(ip("10.9.9.9")));
    assert!(!cidr("10.0.0.0/8").contains(ip("::ffff:10.9.9.9")));
    assert_eq!(
        Cidr::new(ip("192.168.7.7"), 16).unwrap(),
        cidr("192.168.0.0/16")
    );
}

#[test]
fn cidr_errors_are_typed() {
    for bad in [
        "",
        "10.0.0.0/33",
        "2001:db8::/129",
        "10.0.0.0/",
        "10.0.0.0/x",
        "10.0.0/8",
        "not-an-address",
        "10.0.0.0/8/8",
        "[::1]/128",
    ] {
        let err = bad.parse::<Cidr>().unwrap_err();
        assert!(
            matches!(&err, TurnError::Config { reason, .. } if !reason.is_empty()),
            "{bad:?}: {err:?}"
        );
        // The message is usable on its own.
        assert!(
            err.to_string().starts_with("invalid configuration"),
            "{err}"
        );
    }
    assert!(matches!(
        Cidr::new(ip("10.0.0.0"), 33),
        Err(TurnError::Config { .. })
    ));
    assert!(matches!(
        Cidr::new(ip("::"), 129),
        Err(TurnError::Config { .. })
    ));
}

// ---- Properties ----

/// IPv6 addresses concentrated on the forms that embed IPv4 addresses.
fn interesting_v6() -> impl Strategy<Value = Ipv6Addr> {
    let embedded = (
        prop::sample::select(vec![
            0x0000_0000_0000_0000_0000_ffff_u128 << 32, // ::ffff:0:0/96
            0,                                          // ::/96
            0x0064_ff9b_u128 << 96,                     // 64:ff9b::/96
        ]),
        any::<u32>(),
    )
        .prop_map(|(prefix, v4)| Ipv6Addr::from_bits(prefix | u128::from(v4)));
    let six_to_four = (any::<u32>(), any::<u64>()).prop_map(|(v4, low)| {
        Ipv6Addr::from_bits((0x2002_u128 << 112) | (u128::from(v4) << 80) | u128::from(low))
    });
    let isatap = (any::<u64>(), any::<bool>(), any::<u32>()).prop_map(|(prefix, u, v4)| {
        let iid = (if u { 0x0200_5efe_u128 } else { 0x5efe_u128 }) << 32 | u128::from(v4);
        Ipv6Addr::from_bits((u128::from(prefix) << 64) | iid)
    });
    prop_oneof![any::<Ipv6Addr>(), embedded, six_to_four, isatap]
}

fn some_policy() -> impl Strategy<Value = DefaultPeerPolicy> {
    let v4_cidr = (any::<u32>(), 0u8..=32)
        .prop_map(|(a, p)| Cidr::new(IpAddr::V4(Ipv4Addr::from_bits(a)), p).unwrap());
    let v6_cidr =
        (interesting_v6(), 0u8..=128).prop_map(|(a, p)| Cidr::new(IpAddr::V6(a), p).unwrap());
    let any_cidr = prop_oneof![v4_cidr, v6_cidr];
    (
        prop::collection::vec(any_cidr.clone(), 0..4),
        prop::collection::vec(any_cidr, 0..4),
    )
        .prop_map(|(allow, deny)| {
            let mut policy = DefaultPeerPolicy::new();
            for c in allow {
                policy.allow(c);
            }
            for c in deny {
                policy.deny(c);
            }
            policy
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn permits_never_panics(addr in any::<IpAddr>(), v6 in interesting_v6(), policy in some_policy()) {
        let _ = policy.permits(addr);
        let _ = policy.permits(IpAddr::V6(v6));
        let _ = DefaultPeerPolicy::new().refusal(IpAddr::V6(v6));
    }

    #[test]
    fn mapped_form_agrees_with_ipv4(a in any::<Ipv4Addr>()) {
        let policy = DefaultPeerPolicy::new();
        prop_assert_eq!(
            policy.permits(IpAddr::V4(a)),
            policy.permits(IpAddr::V6(a.to_ipv6_mapped()))
        );
        prop_assert_eq!(
            policy.refusal(IpAddr::V4(a)),
            policy.refusal(IpAddr::V6(a.to_ipv6_mapped()))
        );
    }

    #[test]
    fn mapped_form_agrees_with_ipv4_under_any_configuration(
        a in any::<Ipv4Addr>(),
        policy in some_policy(),
    ) {
        prop_assert_eq!(
            policy.permits(IpAddr::V4(a)),
            policy.permits(IpAddr::V6(a.to_ipv6_mapped()))
        );
    }

    #[test]
    fn embedded_refused_ipv4_is_refused(a in any::<Ipv4Addr>(), low in any::<u64>()) {
        let policy = DefaultPeerPolicy::new();
        if !policy.permits(IpAddr::V4(a)) {
            let bits = u128::from(a.to_bits());
            let nat64 = Ipv6Addr::from_bits((0x0064_ff9b_u128 << 96) | bits);
            let six_to_four = Ipv6Addr::from_bits((0x2002_u128 << 112) | (bits << 80) | u128::from(low));
            let compatible = Ipv6Addr::from_bits(bits);
            for v6 in [nat64, six_to_four, compatible] {
                prop_assert!(!policy.permits(IpAddr::V6(v6)), "{} embeds {}", v6, a);
            }
        }
    }

    #[test]
    fn cidr_parsing_never_panics(s in ".{0,48}") {
        let _ = s.parse::<Cidr>();
    }

    #[test]
    fn cidr_display_round_trips(a in any::<IpAddr>(), p in 0u8..=128) {
        if let Ok(c) = Cidr::new(a, p) {
            prop_assert_eq!(c.to_string().parse::<Cidr>(), Ok(c));
            prop_assert!(c.contains(c.addr()));
            prop_assert!(c.contains(a));
        }
    }
}
