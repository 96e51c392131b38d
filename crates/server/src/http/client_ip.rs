//! The client IP (docs/http-contract.md#rate-limits): the TCP peer, unless the peer is a trusted proxy, in which case
//! `X-Forwarded-For` is walked from the right to the first untrusted address.

use crate::config::Cidr;
use std::net::IpAddr;

/// Resolves the client IP from the peer and the `X-Forwarded-For` header.
pub fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[Cidr]) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let Some(header) = forwarded_for else {
        return peer;
    };
    let hops: Vec<IpAddr> = header.split(',').filter_map(|h| h.trim().parse::<IpAddr>().ok()).collect();
    hops.iter().rev().copied().find(|ip| !is_trusted(*ip)).or_else(|| hops.first().copied()).unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn untrusted_peers_are_the_client_whatever_they_claim() {
        assert_eq!(client_ip(ip("203.0.113.7"), Some("1.2.3.4"), &[]), ip("203.0.113.7"));
    }

    #[test]
    fn trusted_proxies_are_skipped_from_the_right() {
        let trusted = [Cidr::parse("127.0.0.1/32").expect("cidr"), Cidr::parse("10.0.0.0/8").expect("cidr")];
        assert_eq!(client_ip(ip("127.0.0.1"), Some("9.9.9.9, 1.2.3.4, 10.1.1.1"), &trusted), ip("1.2.3.4"));
        assert_eq!(client_ip(ip("127.0.0.1"), Some("10.0.0.5"), &trusted), ip("10.0.0.5"));
        assert_eq!(client_ip(ip("127.0.0.1"), None, &trusted), ip("127.0.0.1"));
        assert!(Cidr::parse("::1").expect("cidr").contains(ip("::1")));
        assert!(Cidr::parse("0.0.0.0/0").expect("cidr").contains(ip("8.8.8.8")));
        assert!(Cidr::parse("1.2.3.4/33").is_none());
    }
}
