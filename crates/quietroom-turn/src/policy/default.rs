//! The default peer policy: no relaying into private, local, or special-purpose space.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::PeerPolicy;
use super::cidr::{Cidr, mask32, mask128};

/// Reason for peers refused by an operator's explicit deny.
const EXPLICITLY_DENIED: &str = "explicitly denied by the operator's peer policy";

/// A built-in IPv4 refusal: `net/prefix` and why.
struct V4Rule {
    net: u32,
    prefix: u8,
    reason: &'static str,
}

const fn v4(octets: [u8; 4], prefix: u8, reason: &'static str) -> V4Rule {
    V4Rule {
        net: u32::from_be_bytes(octets),
        prefix,
        reason,
    }
}

/// The built-in IPv4 refusals, most specific first where they overlap.
#[rustfmt::skip]
const V4_RULES: &[V4Rule] = &[
    v4([0, 0, 0, 0], 8, "unspecified / \"this network\" (0.0.0.0/8)"),
    v4([10, 0, 0, 0], 8, "private network (RFC 1918, 10.0.0.0/8)"),
    v4([172, 16, 0, 0], 12, "private network (RFC 1918, 172.16.0.0/12)"),
    v4([192, 168, 0, 0], 16, "private network (RFC 1918, 192.168.0.0/16)"),
    v4([100, 64, 0, 0], 10, "shared address space / carrier-grade NAT (RFC 6598, 100.64.0.0/10)"),
    v4([127, 0, 0, 0], 8, "loopback (127.0.0.0/8)"),
    v4([169, 254, 169, 254], 32, "link-local cloud metadata service (169.254.169.254)"),
    v4([169, 254, 0, 0], 16, "link-local (169.254.0.0/16)"),
    v4([192, 0, 0, 0], 24, "IETF protocol assignments (192.0.0.0/24)"),
    v4([192, 0, 2, 0], 24, "documentation, TEST-NET-1 (192.0.2.0/24)"),
    v4([198, 51, 100, 0], 24, "documentation, TEST-NET-2 (198.51.100.0/24)"),
    v4([203, 0, 113, 0], 24, "documentation, TEST-NET-3 (203.0.113.0/24)"),
    v4([198, 18, 0, 0], 15, "benchmarking (RFC 2544, 198.18.0.0/15)"),
    v4([224, 0, 0, 0], 4, "multicast (224.0.0.0/4)"),
    v4([255, 255, 255, 255], 32, "limited broadcast (255.255.255.255)"),
    v4([240, 0, 0, 0], 4, "reserved (240.0.0.0/4)"),
];

/// A built-in IPv6 refusal: `net/prefix` and why.
struct V6Rule {
    net: u128,
    prefix: u8,
    reason: &'static str,
}

const fn v6(segments: [u16; 8], prefix: u8, reason: &'static str) -> V6Rule {
    let [a, b, c, d, e, f, g, h] = segments;
    V6Rule {
        net: Ipv6Addr::new(a, b, c, d, e, f, g, h).to_bits(),
        prefix,
        reason,
    }
}

/// The built-in IPv6 refusals that do not depend on an embedded IPv4 address.
#[rustfmt::skip]
const V6_RULES: &[V6Rule] = &[
    v6([0, 0, 0, 0, 0, 0, 0, 0], 128, "unspecified (::)"),
    v6([0, 0, 0, 0, 0, 0, 0, 1], 128, "loopback (::1)"),
    v6([0, 0, 0, 0, 0, 0, 0, 0], 96, "IPv4-compatible IPv6, deprecated (::/96)"),
    v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, "NAT64 local-use prefix (64:ff9b:1::/48)"),
    v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64, "discard-only (100::/64)"),
    v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "link-local (fe80::/10)"),
    v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, "site-local, deprecated (fec0::/10)"),
    v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, "unique local (fc00::/7)"),
    v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "multicast (ff00::/8)"),
    v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, "documentation (2001:db8::/32)"),
    v6([0x2001, 2, 0, 0, 0, 0, 0, 0], 48, "benchmarking (2001:2::/48)"),
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32, "Teredo tunnelling, embeds IPv4 addresses (2001::/32)"),
];

/// NAT64 well-known prefix (RFC 6052): the IPv4 address is the last 32 bits.
const NAT64_WKP: V6Rule = v6(
    [0x64, 0xff9b, 0, 0, 0, 0, 0, 0],
    96,
    "NAT64 (64:ff9b::/96) of a refused IPv4 address",
);

/// 6to4 (RFC 3056): the IPv4 address is bits 16-47.
const SIX_TO_FOUR: V6Rule = v6(
    [0x2002, 0, 0, 0, 0, 0, 0, 0],
    16,
    "6to4 (2002::/16) of a refused IPv4 address",
);

/// Reason for an ISATAP interface identifier (RFC 5214) embedding a refused IPv4 address.
const ISATAP_REFUSED: &str =
    "ISATAP interface identifier (::5efe:a.b.c.d) of a refused IPv4 address";

/// Global unicast (2000::/3): everything outside it, not otherwise handled, is refused.
const GLOBAL_UNICAST: V6Rule = v6(
    [0x2000, 0, 0, 0, 0, 0, 0, 0],
    3,
    "not IPv6 global unicast (outside 2000::/3)",
);

fn in_v6(bits: u128, rule: &V6Rule) -> bool {
    bits & mask128(rule.prefix) == rule.net
}

/// Why the built-in rules refuse `ip`, if they do.
fn builtin_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let bits = ip.to_bits();
    V4_RULES
        .iter()
        .find(|rule| bits & mask32(rule.prefix) == rule.net)
        .map(|rule| rule.reason)
}

/// The IPv4 address embedded in an IPv4-mapped (`::ffff:0:0/96`) address: the same host.
fn mapped_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    ip.to_ipv4_mapped()
}

/// The IPv4 address a NAT64 well-known-prefix, 6to4 or IPv4-compatible address carries in
/// its routing prefix, if it is one of those.
fn prefix_embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = ip.to_bits();
    if in_v6(bits, &NAT64_WKP) || bits & mask128(96) == 0 {
        // NAT64 well-known prefix or IPv4-compatible: the last 32 bits.
        Some(Ipv4Addr::from_bits(low32(bits)))
    } else if in_v6(bits, &SIX_TO_FOUR) {
        Some(Ipv4Addr::from_bits(low32(bits >> 80)))
    } else {
        None
    }
}

/// The IPv4 address an ISATAP interface identifier (`0000:5efe` or `0200:5efe`, then the
/// IPv4 address, RFC 5214 §6.1) carries, if the address has one.
fn isatap_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let [.., e, f, g, h] = ip.segments();
    if e & 0xfdff == 0 && f == 0x5efe {
        let [g1, g2] = g.to_be_bytes();
        let [h1, h2] = h.to_be_bytes();
        Some(Ipv4Addr::new(g1, g2, h1, h2))
    } else {
        None
    }
}

/// The low 32 bits of `bits`.
fn low32(bits: u128) -> u32 {
    u32::try_from(bits & u128::from(u32::MAX)).unwrap_or(0)
}

/// Why the built-in rules refuse `ip`, if they do.
fn builtin_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let bits = ip.to_bits();
    if let Some(v4) = mapped_v4(ip) {
        // The same host: judged exactly as the IPv4 address, with its reason.
        return builtin_v4(v4);
    }
    if in_v6(bits, &NAT64_WKP) {
        // RFC 6052 §3.1: the well-known prefix must not carry non-global IPv4 addresses;
        // a global one is fine (it is reached through the NAT64 translator).
        let v4 = Ipv4Addr::from_bits(low32(bits));
        return builtin_v4(v4).map(|_| NAT64_WKP.reason);
    }
    if let Some(rule) = V6_RULES.iter().find(|rule| in_v6(bits, rule)) {
        return Some(rule.reason);
    }
    if in_v6(bits, &SIX_TO_FOUR) {
        let v4 = Ipv4Addr::from_bits(low32(bits >> 80));
        if builtin_v4(v4).is_some() {
            return Some(SIX_TO_FOUR.reason);
        }
    }
    if let Some(v4) = isatap_v4(ip) {
        if builtin_v4(v4).is_some() {
            return Some(ISATAP_REFUSED);
        }
    }
    if !in_v6(bits, &GLOBAL_UNICAST) {
        return Some(GLOBAL_UNICAST.reason);
    }
    None
}

/// An explicit range as the policy matches it: a range inside `::ffff:0:0/96` becomes the
/// IPv4 range it spells (`::ffff:10.0.0.0/104` is `10.0.0.0/8`), because IPv4-mapped
/// peers are judged as the IPv4 addresses they are. Other ranges are unchanged.
fn canonical(cidr: Cidr) -> Cidr {
    match cidr.addr() {
        IpAddr::V6(v6) if cidr.prefix() >= 96 => match mapped_v4(v6) {
            Some(v4) => Cidr::new(IpAddr::V4(v4), cidr.prefix() - 96).unwrap_or(cidr),
            None => cidr,
        },
        _ => cidr,
    }
}

/// Whether any range in `list` contains any of `candidates`.
fn any_contains(list: &[Cidr], candidates: &[Option<IpAddr>]) -> bool {
    list.iter().any(|cidr| {
        let cidr = canonical(*cidr);
        candidates
            .iter()
            .flatten()
            .any(|candidate| cidr.contains(*candidate))
    })
}

/// The peer policy a relay should start from: it refuses every address a public relay
/// must never reach, and operators add explicit allows and denies.
///
/// # Order
///
/// 1. An explicit [`deny`](Self::deny) that matches refuses the peer.
/// 2. Otherwise an explicit [`allow`](Self::allow) that matches permits it.
/// 3. Otherwise the built-in refusals below apply; anything they do not refuse is permitted.
///
/// # Built-in refusals
///
/// IPv4: `0.0.0.0/8`, RFC 1918 (`10/8`, `172.16/12`, `192.168/16`), RFC 6598 shared space
/// `100.64/10`, loopback `127/8`, link-local `169.254/16` (including the cloud metadata
/// service `169.254.169.254`), IETF protocol assignments `192.0.0.0/24`, the documentation
/// nets `192.0.2/24`, `198.51.100/24`, `203.0.113/24`, benchmarking `198.18/15`, multicast
/// `224/4`, and reserved `240/4` including broadcast `255.255.255.255`.
///
/// IPv6: `::`, `::1`, link-local `fe80::/10`, site-local `fec0::/10`, unique local
/// `fc00::/7`, multicast `ff00::/8`, documentation `2001:db8::/32`, benchmarking
/// `2001:2::/48`, discard `100::/64`, and everything outside global unicast `2000::/3`
/// (unallocated or special space that no legitimate peer uses; explicitly allow a range if
/// that ever changes).
///
/// # IPv4 hidden in IPv6
///
/// Relaying to an IPv6 address that carries a refused IPv4 address must not reach that
/// IPv4 host (the class of coturn's CVE-2020-26262):
///
/// * IPv4-mapped `::ffff:a.b.c.d` is the same host as `a.b.c.d` and is judged exactly as
///   it: refused if and only if the IPv4 address is, with the same reason.
/// * NAT64 well-known prefix `64:ff9b::a.b.c.d` (RFC 6052): refused if `a.b.c.d` is.
/// * NAT64 local-use prefix `64:ff9b:1::/48` (RFC 8215): refused entirely (it is the
///   operator's own translator, and where the IPv4 address sits depends on its setup).
/// * IPv4-compatible `::a.b.c.d` (`::/96`, deprecated by RFC 4291): refused entirely.
/// * 6to4 `2002:aabb:ccdd::/48` (RFC 3056, IPv4 address in bits 16-47): refused if the
///   IPv4 address is.
/// * Teredo `2001::/32` (RFC 4380, server IPv4 address in bits 32-63 and the client's,
///   inverted, in the last 32 bits): refused entirely. It is a tunnelling mechanism that
///   legitimate peers no longer use, and both embedded addresses are attacker-chosen.
/// * ISATAP interface identifiers `…:0:5efe:a.b.c.d` / `…:200:5efe:a.b.c.d` (RFC 5214),
///   under any prefix: refused if `a.b.c.d` is.
///
/// # Matching explicit ranges
///
/// IPv4-mapped addresses are IPv4 peers (a dual-stack socket sends IPv4 packets to them),
/// so before matching, a peer `::ffff:a.b.c.d` is taken as `a.b.c.d`, and an explicit
/// range inside `::ffff:0:0/96` as the IPv4 range it spells. Wider IPv6 ranges never
/// match IPv4 peers: `deny(::/0)` means "no IPv6 peers" and leaves `::ffff:8.8.8.8` alone.
///
/// * An explicit deny matches the address and every IPv4 address embedded in it as above
///   (NAT64 well-known prefix, IPv4-compatible, 6to4, ISATAP). So `deny(8.8.8.0/24)`
///   also refuses `::ffff:8.8.8.8`, `64:ff9b::808:808` and `2002:808:808::1`.
/// * An explicit allow matches the address only: allowing `127.0.0.1/32` allows
///   `127.0.0.1` and `::ffff:127.0.0.1` (the same host), but not `64:ff9b::7f00:1` or
///   `2002:7f00:1::1`, which reach a different machine (a translator or tunnel endpoint).
///   Allow those IPv6 ranges explicitly if that is really wanted.
///
/// Consequently, for every IPv4 address `a`, `permits(a)` equals
/// `permits(a.to_ipv6_mapped())`, whatever the explicit ranges.
#[derive(Clone, Debug, Default)]
pub struct DefaultPeerPolicy {
    allow: Vec<Cidr>,
    deny: Vec<Cidr>,
}

impl DefaultPeerPolicy {
    /// The built-in refusals, with no explicit allows or denies.
    pub fn new() -> Self {
        DefaultPeerPolicy::default()
    }

    /// Explicitly permits `cidr`, overriding the built-in refusals (but not explicit
    /// denies).
    pub fn allow(&mut self, cidr: Cidr) -> &mut Self {
        self.allow.push(cidr);
        self
    }

    /// Explicitly refuses `cidr`, overriding explicit allows and the built-in rules.
    pub fn deny(&mut self, cidr: Cidr) -> &mut Self {
        self.deny.push(cidr);
        self
    }

    /// The explicitly allowed ranges, in the order they were added.
    pub fn allowed(&self) -> &[Cidr] {
        &self.allow
    }

    /// The explicitly denied ranges, in the order they were added.
    pub fn denied(&self) -> &[Cidr] {
        &self.deny
    }

    /// Why `ip` is refused (a static description, for logs and tests), or `None` if it is
    /// permitted.
    pub fn refusal(&self, ip: IpAddr) -> Option<&'static str> {
        // An IPv4-mapped address is the IPv4 address: judge it as one.
        let ip = ip.to_canonical();

        // A deny is matched against the address and every IPv4 address embedded in it.
        let mut deny_candidates = [Some(ip), None, None];
        if let IpAddr::V6(v6) = ip {
            deny_candidates[1] = prefix_embedded_v4(v6).map(IpAddr::V4);
            deny_candidates[2] = isatap_v4(v6).map(IpAddr::V4);
        }
        if any_contains(&self.deny, &deny_candidates) {
            return Some(EXPLICITLY_DENIED);
        }

        // An allow is matched against the address only.
        if any_contains(&self.allow, &[Some(ip)]) {
            return None;
        }

        match ip {
            IpAddr::V4(v4) => builtin_v4(v4),
            IpAddr::V6(v6) => builtin_v6(v6),
        }
    }
}

impl PeerPolicy for DefaultPeerPolicy {
    fn permits(&self, peer: IpAddr) -> bool {
        self.refusal(peer).is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn every_rule_is_reachable_with_its_own_reason() {
        let policy = DefaultPeerPolicy::new();
        for rule in V4_RULES {
            let addr = IpAddr::V4(Ipv4Addr::from_bits(rule.net));
            assert_eq!(policy.refusal(addr), Some(rule.reason), "{addr}");
        }
        for rule in V6_RULES {
            let addr = IpAddr::V6(Ipv6Addr::from_bits(rule.net | 0x1234));
            let addr = if rule.prefix == 128 {
                IpAddr::V6(Ipv6Addr::from_bits(rule.net))
            } else {
                addr
            };
            assert_eq!(policy.refusal(addr), Some(rule.reason), "{addr}");
        }
        let mut reasons: Vec<&str> = V4_RULES.iter().map(|r| r.reason).collect();
        reasons.extend(V6_RULES.iter().map(|r| r.reason));
        reasons.extend([NAT64_WKP.reason, SIX_TO_FOUR.reason, ISATAP_REFUSED]);
        reasons.extend([GLOBAL_UNICAST.reason, EXPLICITLY_DENIED]);
        let count = reasons.len();
        reasons.sort_unstable();
        reasons.dedup();
        assert_eq!(reasons.len(), count, "reasons are distinct");
    }

    #[test]
    fn embedded_forms() {
        let policy = DefaultPeerPolicy::new();
        let refused = |s: &str| policy.refusal(ip(s));
        assert_eq!(refused("::ffff:127.0.0.1"), Some("loopback (127.0.0.0/8)"));
        assert_eq!(refused("64:ff9b::7f00:1"), Some(NAT64_WKP.reason));
        assert_eq!(refused("64:ff9b::808:808"), None);
        assert_eq!(refused("2002:7f00:1::1"), Some(SIX_TO_FOUR.reason));
        assert_eq!(refused("2002:808:808::1"), None);
        assert_eq!(refused("2606:4700::5efe:a00:1"), Some(ISATAP_REFUSED));
        assert_eq!(refused("2606:4700::200:5efe:a00:1"), Some(ISATAP_REFUSED));
        assert_eq!(refused("2606:4700::5efe:808:808"), None);
        assert_eq!(
            refused("2001:0:4136:e378:8000:63bf:3fff:fdd2"),
            Some("Teredo tunnelling, embeds IPv4 addresses (2001::/32)")
        );
        assert_eq!(refused("4000::1"), Some(GLOBAL_UNICAST.reason));
        assert_eq!(refused("64:ff9b:2::1"), Some(GLOBAL_UNICAST.reason));
    }

    #[test]
    fn helpers() {
        assert_eq!(low32(u128::MAX), u32::MAX);
        assert_eq!(
            prefix_embedded_v4("2002:c000:0201::".parse().unwrap()),
            Some(Ipv4Addr::new(192, 0, 2, 1))
        );
        assert_eq!(
            prefix_embedded_v4("::10.0.0.1".parse().unwrap()),
            Some(Ipv4Addr::new(10, 0, 0, 1))
        );
        assert_eq!(prefix_embedded_v4("2606:4700::1".parse().unwrap()), None);
        assert_eq!(isatap_v4("2606:4700::1".parse().unwrap()), None);
    }
}
