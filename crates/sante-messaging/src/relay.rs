//! Relay rules (MSG-13): the platform delivers to its own domain and, through its
//! outbound queue, to the configured partner domains; it accepts inbound mail only
//! from partner domains, for its own domain; it relays for nobody else.

use std::net::IpAddr;

use crate::address::{AddressError, normalise_domain};

/// An IP network, `address/prefix`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    base: IpAddr,
    prefix: u8,
}

impl Network {
    /// Reads `192.0.2.0/24`, `2001:db8::/32` or a single address.
    pub fn parse(text: &str) -> Result<Network, String> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let base: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("{text:?} is not an IP address or network"))?;
        let max = if base.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{text:?}: the prefix must be 0 to {max}"))?,
            None => max,
        };
        Ok(Network { base, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.base, ip) {
            (IpAddr::V4(b), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(b) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(b), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(b) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// A partner domain: mail from it is accepted on the inbound listener, and mail to
/// it is relayed to its server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partner {
    pub domain: String,
    /// Its server, `host:port`, for outbound delivery; `None`: receive only.
    pub relay: Option<String>,
    /// Speak TLS to `relay` (STARTTLS, the server certificate verified).
    pub tls: bool,
    /// Where its servers connect from; empty: anywhere (then the sender's domain alone
    /// identifies it, which is weaker).
    pub networks: Vec<Network>,
}

impl Partner {
    pub fn new(domain: &str) -> Result<Partner, AddressError> {
        Ok(Partner {
            domain: normalise_domain(domain)?,
            relay: None,
            tls: true,
            networks: Vec::new(),
        })
    }

    /// Whether a connection from `ip` may speak for this partner.
    pub fn admits(&self, ip: IpAddr) -> bool {
        self.networks.is_empty() || self.networks.iter().any(|n| n.contains(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_contain_their_addresses() {
        let n = Network::parse("192.0.2.0/24").unwrap();
        assert!(n.contains("192.0.2.77".parse().unwrap()));
        assert!(!n.contains("192.0.3.1".parse().unwrap()));
        assert!(n.contains("::ffff:192.0.2.9".parse().unwrap()));
        let one = Network::parse("127.0.0.1").unwrap();
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        let all = Network::parse("0.0.0.0/0").unwrap();
        assert!(all.contains("203.0.113.5".parse().unwrap()));
        let v6 = Network::parse("2001:db8::/32").unwrap();
        assert!(v6.contains("2001:db8:1::5".parse().unwrap()));
        assert!(!v6.contains("2001:db9::5".parse().unwrap()));
        assert!(Network::parse("10.0.0.0/33").is_err());
        assert!(Network::parse("host.example").is_err());
    }
}
