//! Settings of the HTTP edge, parsed from the configuration: trusted proxy networks, the CORS
//! policy and the rate-limit classes. They live here, not in the middleware that uses them, so
//! the configuration depends on nothing of the HTTP layer; the middleware adds its behaviour.

use std::net::IpAddr;
use std::time::Duration;

/// An IPv4 or IPv6 network in CIDR notation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `10.0.0.0/8`, `::1/128` or a bare address (a host route).
    pub fn parse(text: &str) -> Option<Self> {
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, Some(p.parse::<u8>().ok()?)),
            None => (text.trim().parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Self { network: addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        fn masked(bits: u128, prefix: u8, width: u8) -> u128 {
            if prefix == 0 { 0 } else { bits >> (width - prefix) }
        }
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                masked(u128::from(u32::from(n)), self.prefix, 32) == masked(u128::from(u32::from(a)), self.prefix, 32)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                masked(u128::from(n), self.prefix, 128) == masked(u128::from(a), self.prefix, 128)
            }
            _ => false,
        }
    }
}

/// The CORS settings, parsed once.
#[derive(Debug, Clone)]
pub struct CorsPolicy {
    pub origins: Vec<String>,
    pub any_origin: bool,
    pub methods: String,
    pub headers: String,
}

impl CorsPolicy {
    /// From the comma-separated `CORS_*` lists.
    pub fn new(origins: &str, methods: &str, headers: &str) -> Self {
        let list =
            |s: &str| s.split(',').map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned).collect::<Vec<_>>();
        let origins = list(origins);
        Self {
            any_origin: origins.iter().any(|o| o == "*"),
            origins,
            methods: list(methods).join(", "),
            headers: list(headers).join(", "),
        }
    }
}

/// A route class with its bucket parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassLimit {
    pub name: &'static str,
    pub rpm: u32,
    pub burst: u32,
}

/// The three limited classes.
#[derive(Debug, Clone, Copy)]
pub struct RateLimits {
    pub enabled: bool,
    pub auth: ClassLimit,
    pub refresh: ClassLimit,
    pub api: ClassLimit,
    pub idle: Duration,
}
