//! Client addresses as limits count them.

use std::net::IpAddr;

/// The address a limit counts a client under: IPv4 as it is (an IPv4-mapped IPv6
/// address as IPv4), IPv6 by its /64, which one subscriber usually holds whole, so
/// that changing the low bits does not buy a new allowance.
pub fn subscriber_address(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_counts_by_its_64_and_mapped_ipv4_as_ipv4() {
        let a = |s: &str| -> IpAddr { s.parse().unwrap() };
        assert_eq!(
            subscriber_address(a("2001:db8:1:2:ffff::9")),
            a("2001:db8:1:2::")
        );
        assert_eq!(
            subscriber_address(a("::ffff:203.0.113.7")),
            a("203.0.113.7")
        );
        assert_eq!(subscriber_address(a("203.0.113.7")), a("203.0.113.7"));
    }
}
