//! IP networks in CIDR notation.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::TurnError;

/// What [`TurnError::Config`] names when a CIDR is refused.
const WHAT: &str = "peer address range (CIDR)";

/// An IP network: `"10.0.0.0/8"`, `"2001:db8::/32"`, or a bare address (`/32` for IPv4,
/// `/128` for IPv6).
///
/// Host bits below the prefix are accepted and cleared, so `"10.0.0.1/8"` is the network
/// `10.0.0.0/8` (and displays as such). The address is matched by family only:
/// `0.0.0.0/0` does not contain `::ffff:1.2.3.4`; [`DefaultPeerPolicy`] does that
/// cross-family matching itself.
///
/// [`DefaultPeerPolicy`]: super::DefaultPeerPolicy
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// The network of `addr` with `prefix` bits, host bits cleared. A prefix longer than the
    /// address (over 32 for IPv4, 128 for IPv6) is [`TurnError::Config`].
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Self, TurnError> {
        let addr = match addr {
            IpAddr::V4(v4) => {
                if prefix > 32 {
                    return Err(TurnError::Config {
                        what: WHAT,
                        reason: format!("prefix /{prefix} is longer than 32 bits for {v4}"),
                    });
                }
                IpAddr::V4(Ipv4Addr::from_bits(v4.to_bits() & mask32(prefix)))
            }
            IpAddr::V6(v6) => {
                if prefix > 128 {
                    return Err(TurnError::Config {
                        what: WHAT,
                        reason: format!("prefix /{prefix} is longer than 128 bits for {v6}"),
                    });
                }
                IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & mask128(prefix)))
            }
        };
        Ok(Cidr { addr, prefix })
    }

    /// The network address (host bits cleared).
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length in bits.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` is in this network. Addresses of the other family never are.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                ip.to_bits() & mask32(self.prefix) == net.to_bits()
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                ip.to_bits() & mask128(self.prefix) == net.to_bits()
            }
            _ => false,
        }
    }
}

/// The IPv4 netmask of `prefix` bits (0..=32; longer prefixes give all ones).
pub(super) fn mask32(prefix: u8) -> u32 {
    u32::MAX
        .checked_shl(32u32.saturating_sub(u32::from(prefix)))
        .unwrap_or(0)
}

/// The IPv6 netmask of `prefix` bits (0..=128; longer prefixes give all ones).
pub(super) fn mask128(prefix: u8) -> u128 {
    u128::MAX
        .checked_shl(128u32.saturating_sub(u32::from(prefix)))
        .unwrap_or(0)
}

impl FromStr for Cidr {
    type Err = TurnError;

    /// Parses `ADDRESS/PREFIX` or a bare `ADDRESS` (surrounding whitespace ignored).
    /// Errors are [`TurnError::Config`] with a reason naming the input.
    fn from_str(s: &str) -> Result<Self, TurnError> {
        let trimmed = s.trim();
        let (addr_text, prefix_text) = match trimmed.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (trimmed, None),
        };
        let addr: IpAddr = addr_text.parse().map_err(|_| TurnError::Config {
            what: WHAT,
            reason: format!(
                "{trimmed:?}: {addr_text:?} is not an IPv4 or IPv6 address \
                 (expected e.g. 10.0.0.0/8, 2001:db8::/32 or a bare address)"
            ),
        })?;
        let prefix = match prefix_text {
            None => match addr {
                IpAddr::V4(_) => 32,
                IpAddr::V6(_) => 128,
            },
            Some(text) => {
                let digits_only = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
                match text.parse::<u8>() {
                    Ok(prefix) if digits_only => prefix,
                    _ => {
                        return Err(TurnError::Config {
                            what: WHAT,
                            reason: format!(
                                "{trimmed:?}: prefix {text:?} is not a number of bits \
                                 (0-32 for IPv4, 0-128 for IPv6)"
                            ),
                        });
                    }
                }
            }
        };
        Cidr::new(addr, prefix).map_err(|e| match e {
            TurnError::Config { what, reason } => TurnError::Config {
                what,
                reason: format!("{trimmed:?}: {reason}"),
            },
            other => other,
        })
    }
}

impl fmt::Display for Cidr {
    /// `ADDRESS/PREFIX`, always with the prefix (e.g. `10.0.0.0/8`, `::1/128`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Cidr {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parse_and_display() {
        assert_eq!(cidr("10.0.0.0/8").to_string(), "10.0.0.0/8");
        assert_eq!(cidr("2001:db8::/32").to_string(), "2001:db8::/32");
        assert_eq!(cidr("192.0.2.7").to_string(), "192.0.2.7/32");
        assert_eq!(cidr("::1").to_string(), "::1/128");
        assert_eq!(cidr(" 10.0.0.0/8 ").to_string(), "10.0.0.0/8");
        assert_eq!(cidr("0.0.0.0/0").to_string(), "0.0.0.0/0");
        assert_eq!(cidr("::/0").to_string(), "::/0");
        // Host bits are cleared.
        assert_eq!(cidr("10.0.0.1/8"), cidr("10.0.0.0/8"));
        assert_eq!(cidr("2001:db8::1/32").to_string(), "2001:db8::/32");
        assert_eq!(cidr("10.1.2.3/8").prefix(), 8);
        assert_eq!(cidr("10.1.2.3/8").addr(), ip("10.0.0.0"));
        // Display round-trips.
        for s in [
            "172.16.0.0/12",
            "fe80::/10",
            "::ffff:0.0.0.0/96",
            "1.2.3.4/32",
        ] {
            assert_eq!(cidr(&cidr(s).to_string()), cidr(s));
        }
    }

    #[test]
    fn contains() {
        let ten = cidr("10.0.0.0/8");
        assert!(ten.contains(ip("10.255.255.255")));
        assert!(!ten.contains(ip("11.0.0.0")));
        assert!(!ten.contains(ip("::ffff:10.0.0.1")));
        assert!(cidr("0.0.0.0/0").contains(ip("255.255.255.255")));
        assert!(!cidr("0.0.0.0/0").contains(ip("::")));
        assert!(cidr("::/0").contains(ip("ffff::1")));
        assert!(cidr("fc00::/7").contains(ip("fdff::1")));
        assert!(!cidr("fc00::/7").contains(ip("fe00::1")));
        assert!(cidr("1.2.3.4").contains(ip("1.2.3.4")));
        assert!(!cidr("1.2.3.4").contains(ip("1.2.3.5")));
    }

    #[test]
    fn errors_are_config() {
        for bad in [
            "",
            "/",
            "10.0.0.0/",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/-1",
            "10.0.0.0/+8",
            "10.0.0.0/8/8",
            "10.0.0/8",
            "banana",
            "fe80::1%eth0",
            "10.0.0.0/ 8",
            "10.0.0.0/256",
            "10.0.0.0/99999999999",
        ] {
            match bad.parse::<Cidr>() {
                Err(TurnError::Config { what, reason }) => {
                    assert_eq!(what, WHAT);
                    assert!(!reason.is_empty(), "{bad:?}");
                }
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
        assert!(matches!(
            Cidr::new(ip("1.2.3.4"), 33),
            Err(TurnError::Config { .. })
        ));
        assert!(matches!(
            Cidr::new(ip("::"), 129),
            Err(TurnError::Config { .. })
        ));
        assert!(Cidr::new(ip("::"), 128).is_ok());
    }
}
