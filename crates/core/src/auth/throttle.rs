//! Login throttling against brute force (SPEC §4.4), in process.
//!
//! Three counters per failure: the (email, IP) pair, the email across all IPs, and the IP.
//! Reaching a threshold within the window locks that key for `lockout`; a single source can
//! therefore lock an account only for itself, never for everyone else. The shared Redis store
//! comes with the cache work; this in-process state is its fallback.

use crate::config::ThrottleConfig;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Which lock a failure triggered (for `auth_lockouts_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockKind {
    Account,
    Ip,
}

impl LockKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Account => "account",
            Self::Ip => "ip",
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Counter {
    window_start: Instant,
    failures: u32,
    locked_until: Option<Instant>,
}

/// When the map grows past this, expired entries are swept on the next write.
const SWEEP_THRESHOLD: usize = 10_000;

/// In-process login throttle.
pub struct LoginThrottle {
    config: ThrottleConfig,
    counters: Mutex<HashMap<String, Counter>>,
}

/// The IP part of throttle and rate-limit keys: IPv6 addresses are reduced to their /64.
pub fn ip_key(ip: &str) -> String {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Err(_) => ip.to_owned(),
    }
}

fn email_key(email: &str) -> String {
    hex::encode(Sha256::digest(email.as_bytes()))
}

impl LoginThrottle {
    pub fn new(config: ThrottleConfig) -> Self {
        Self { config, counters: Mutex::new(HashMap::new()) }
    }

    fn keys(email: &str, ip: &str) -> [String; 3] {
        let e = email_key(email);
        let ip = ip_key(ip);
        [format!("login_fail:pair:{e}:{ip}"), format!("login_fail:account:{e}"), format!("login_fail:ip:{ip}")]
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Counter>> {
        // A poisoned lock only means another thread panicked mid-update of plain counters.
        self.counters.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `Err(seconds)` when the pair, the account or the IP is locked: the remaining lockout,
    /// rounded up, for `Retry-After`.
    pub fn check(&self, email: &str, ip: &str) -> Result<(), u64> {
        let now = Instant::now();
        let map = self.lock();
        let remaining = Self::keys(email, ip)
            .iter()
            .filter_map(|k| map.get(k).and_then(|c| c.locked_until))
            .filter(|until| *until > now)
            .map(|until| until - now)
            .max();
        match remaining {
            Some(d) => Err(ceil_secs(d)),
            None => Ok(()),
        }
    }

    /// Counts a failure; returns the lock it triggered, if any.
    pub fn record_failure(&self, email: &str, ip: &str) -> Option<LockKind> {
        let now = Instant::now();
        let (window, lockout) = (self.config.window, self.config.lockout);
        let thresholds = [
            (self.config.max_failures, LockKind::Account),
            (self.config.account_max_failures, LockKind::Account),
            (self.config.ip_max_failures, LockKind::Ip),
        ];
        let mut map = self.lock();
        if map.len() > SWEEP_THRESHOLD {
            map.retain(|_, c| c.locked_until.is_some_and(|u| u > now) || now - c.window_start < window);
        }
        let mut triggered = None;
        for (key, (threshold, kind)) in Self::keys(email, ip).into_iter().zip(thresholds) {
            let counter = map.entry(key).or_insert(Counter { window_start: now, failures: 0, locked_until: None });
            let lock_over = counter.locked_until.is_some_and(|u| u <= now);
            if lock_over || now - counter.window_start >= window {
                *counter = Counter { window_start: now, failures: 0, locked_until: None };
            }
            counter.failures += 1;
            if counter.failures >= threshold.max(1) && counter.locked_until.is_none() {
                counter.locked_until = Some(now + lockout);
                triggered.get_or_insert(kind);
            }
        }
        triggered
    }

    /// A successful login resets the account counters of that email (pair and account).
    pub fn record_success(&self, email: &str, ip: &str) {
        let [pair, account, _] = Self::keys(email, ip);
        let mut map = self.lock();
        map.remove(&pair);
        map.remove(&account);
    }
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(lockout: Duration) -> LoginThrottle {
        LoginThrottle::new(ThrottleConfig {
            max_failures: 3,
            account_max_failures: 5,
            ip_max_failures: 4,
            window: Duration::from_secs(900),
            lockout,
        })
    }

    #[test]
    fn pair_locks_after_threshold_only_for_that_ip() {
        let t = throttle(Duration::from_secs(60));
        for _ in 0..2 {
            assert_eq!(t.record_failure("a@x.io", "1.1.1.1"), None);
        }
        assert_eq!(t.record_failure("a@x.io", "1.1.1.1"), Some(LockKind::Account));
        let retry = t.check("a@x.io", "1.1.1.1").expect_err("locked");
        assert!((1..=60).contains(&retry));
        assert!(t.check("a@x.io", "2.2.2.2").is_ok());
    }

    #[test]
    fn ip_locks_across_emails_and_success_resets_account_counters() {
        let t = throttle(Duration::from_secs(60));
        for i in 0..3 {
            t.record_failure(&format!("u{i}@x.io"), "9.9.9.9");
        }
        assert_eq!(t.record_failure("u9@x.io", "9.9.9.9"), Some(LockKind::Ip));
        assert!(t.check("someone@x.io", "9.9.9.9").is_err());

        t.record_failure("b@x.io", "3.3.3.3");
        t.record_failure("b@x.io", "3.3.3.3");
        t.record_success("b@x.io", "3.3.3.3");
        assert_eq!(t.record_failure("b@x.io", "3.3.3.3"), None);
    }

    #[test]
    fn locks_end_after_the_lockout() {
        let t = throttle(Duration::ZERO);
        for _ in 0..3 {
            t.record_failure("c@x.io", "4.4.4.4");
        }
        assert!(t.check("c@x.io", "4.4.4.4").is_ok());
    }

    #[test]
    fn ipv6_addresses_share_their_64_prefix() {
        assert_eq!(ip_key("2001:db8:1:2:aaaa::1"), ip_key("2001:db8:1:2:bbbb::2"));
        assert_eq!(ip_key("10.0.0.1"), "10.0.0.1");
    }
}
