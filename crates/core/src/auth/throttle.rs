//! Login throttling against brute force (docs/authentication.md#login-throttling), in process.
//!
//! Three counters per failure: the (email, IP) pair, the email across all IPs, and the IP.
//! Reaching a threshold within the window locks that key for `lockout`; a single source can
//! therefore lock an account only for itself, never for everyone else. With Redis the counters
//! are shared by every instance (`login_fail:*` hashes with a TTL, updated by one script);
//! while Redis is unavailable each instance counts on its own.

use crate::config::ThrottleConfig;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use taskify_cache::redis::{self, Script};
use taskify_cache::{CallKind, RedisHandle};

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

/// Counts a failure on the three keys (pair, account, IP) and locks each that reaches its
/// threshold. A lock that has ended resets its counter. ARGV: now ms, window ms, lockout ms,
/// then the three thresholds. Returns the 1-based index of the first key locked, or 0.
const FAIL_SCRIPT: &str = r#"
local now = tonumber(ARGV[1])
local lockout = tonumber(ARGV[3])
local locked = 0
for i = 1, 3 do
  local k = KEYS[i]
  local until_ms = tonumber(redis.call('HGET', k, 'l') or '0')
  if until_ms > 0 and until_ms <= now then redis.call('DEL', k); until_ms = 0 end
  local n = redis.call('HINCRBY', k, 'n', 1)
  if n == 1 then redis.call('PEXPIRE', k, ARGV[2]) end
  if n >= tonumber(ARGV[3 + i]) and until_ms == 0 then
    redis.call('HSET', k, 'l', tostring(now + lockout))
    if redis.call('PTTL', k) < lockout then redis.call('PEXPIRE', k, lockout) end
    if locked == 0 then locked = i end
  end
end
return locked
"#;

/// The longest remaining lock of the three keys, in ms (0 when none is locked). ARGV: now ms.
const CHECK_SCRIPT: &str = r#"
local now = tonumber(ARGV[1])
local longest = 0
for i = 1, 3 do
  local until_ms = tonumber(redis.call('HGET', KEYS[i], 'l') or '0')
  if until_ms - now > longest then longest = until_ms - now end
end
return longest
"#;

/// Login throttle: shared through Redis when it is available, in process otherwise.
pub struct LoginThrottle {
    config: ThrottleConfig,
    counters: Mutex<HashMap<String, Counter>>,
    redis: Option<RedisHandle>,
    fail_script: Script,
    check_script: Script,
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
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
    pub fn new(config: ThrottleConfig, redis: Option<RedisHandle>) -> Self {
        Self {
            config,
            counters: Mutex::new(HashMap::new()),
            redis,
            fail_script: Script::new(FAIL_SCRIPT),
            check_script: Script::new(CHECK_SCRIPT),
        }
    }

    /// `Err(seconds)` when the pair, the account or the IP is locked (see [`Self::check_local`]).
    pub async fn check(&self, email: &str, ip: &str) -> Result<(), u64> {
        if let Some(redis) = &self.redis {
            let keys = Self::keys(email, ip);
            let script = &self.check_script;
            let result = redis
                .call(CallKind::Read, |mut conn| async move {
                    script.key(&keys[0]).key(&keys[1]).key(&keys[2]).arg(unix_ms()).invoke_async::<u64>(&mut conn).await
                })
                .await;
            if let Ok(ms) = result {
                return if ms == 0 { Ok(()) } else { Err(ceil_secs(Duration::from_millis(ms))) };
            }
        }
        self.check_local(email, ip)
    }

    /// Counts a failure everywhere (see [`Self::record_failure_local`]).
    pub async fn record_failure(&self, email: &str, ip: &str) -> Option<LockKind> {
        if let Some(redis) = &self.redis {
            let keys = Self::keys(email, ip);
            let (script, c) = (&self.fail_script, &self.config);
            let result = redis
                .call(CallKind::Write, |mut conn| async move {
                    script
                        .key(&keys[0])
                        .key(&keys[1])
                        .key(&keys[2])
                        .arg(unix_ms())
                        .arg(millis(c.window))
                        .arg(millis(c.lockout))
                        .arg(c.max_failures.max(1))
                        .arg(c.account_max_failures.max(1))
                        .arg(c.ip_max_failures.max(1))
                        .invoke_async::<u8>(&mut conn)
                        .await
                })
                .await;
            if let Ok(locked) = result {
                return match locked {
                    1 | 2 => Some(LockKind::Account),
                    3 => Some(LockKind::Ip),
                    _ => None,
                };
            }
        }
        self.record_failure_local(email, ip)
    }

    /// A successful login resets the pair and account counters of that email.
    pub async fn record_success(&self, email: &str, ip: &str) {
        if let Some(redis) = &self.redis {
            let [pair, account, _] = Self::keys(email, ip);
            let deleted = redis
                .call(CallKind::Write, |mut conn| async move {
                    redis::cmd("DEL").arg(&pair).arg(&account).query_async::<u64>(&mut conn).await
                })
                .await;
            if deleted.is_ok() {
                return;
            }
        }
        self.record_success_local(email, ip);
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
    fn check_local(&self, email: &str, ip: &str) -> Result<(), u64> {
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
    fn record_failure_local(&self, email: &str, ip: &str) -> Option<LockKind> {
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
    fn record_success_local(&self, email: &str, ip: &str) {
        let [pair, account, _] = Self::keys(email, ip);
        let mut map = self.lock();
        map.remove(&pair);
        map.remove(&account);
    }
}

/// Whole seconds, rounded up (for `Retry-After`).
pub fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(lockout: Duration) -> LoginThrottle {
        LoginThrottle::new(
            ThrottleConfig {
                max_failures: 3,
                account_max_failures: 5,
                ip_max_failures: 4,
                window: Duration::from_secs(900),
                lockout,
            },
            None,
        )
    }

    #[test]
    fn pair_locks_after_threshold_only_for_that_ip() {
        let t = throttle(Duration::from_secs(60));
        for _ in 0..2 {
            assert_eq!(t.record_failure_local("a@x.io", "1.1.1.1"), None);
        }
        assert_eq!(t.record_failure_local("a@x.io", "1.1.1.1"), Some(LockKind::Account));
        let retry = t.check_local("a@x.io", "1.1.1.1").expect_err("locked");
        assert!((1..=60).contains(&retry));
        assert!(t.check_local("a@x.io", "2.2.2.2").is_ok());
    }

    #[test]
    fn ip_locks_across_emails_and_success_resets_account_counters() {
        let t = throttle(Duration::from_secs(60));
        for i in 0..3 {
            t.record_failure_local(&format!("u{i}@x.io"), "9.9.9.9");
        }
        assert_eq!(t.record_failure_local("u9@x.io", "9.9.9.9"), Some(LockKind::Ip));
        assert!(t.check_local("someone@x.io", "9.9.9.9").is_err());

        t.record_failure_local("b@x.io", "3.3.3.3");
        t.record_failure_local("b@x.io", "3.3.3.3");
        t.record_success_local("b@x.io", "3.3.3.3");
        assert_eq!(t.record_failure_local("b@x.io", "3.3.3.3"), None);
    }

    #[test]
    fn locks_end_after_the_lockout() {
        let t = throttle(Duration::ZERO);
        for _ in 0..3 {
            t.record_failure_local("c@x.io", "4.4.4.4");
        }
        assert!(t.check_local("c@x.io", "4.4.4.4").is_ok());
    }

    #[test]
    fn ipv6_addresses_share_their_64_prefix() {
        assert_eq!(ip_key("2001:db8:1:2:aaaa::1"), ip_key("2001:db8:1:2:bbbb::2"));
        assert_eq!(ip_key("10.0.0.1"), "10.0.0.1");
    }
}
