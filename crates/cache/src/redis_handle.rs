//! The shared Redis connection behind the circuit breaker and per-call timeouts (docs/cache.md#circuit-breaker).
//!
//! One multiplexed [`ConnectionManager`] serves every request-path command of the process. It is
//! created lazily: building it never touches the network, so start-up never waits for Redis, and
//! it reconnects by itself after a transport error. Every call goes through
//! [`RedisHandle::call`], which asks the breaker first (an open breaker skips the call at once),
//! bounds the call with a timeout, and reports connection errors and timeouts as breaker
//! failures. Blocking commands (`SUBSCRIBE`, `BLPOP`, …) must never run on this connection:
//! open a dedicated one from [`RedisHandle::client`].

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, RedisError, ServerErrorKind};

use crate::breaker::CircuitBreaker;
use crate::config::RedisConfig;
use crate::telemetry;

/// Why a Redis call did not produce a value.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RedisCallError {
    /// The breaker is open (or half-open with every trial slot taken): the call was not sent.
    #[error("redis call skipped: circuit breaker open")]
    Skipped,
    /// The call did not answer within its timeout (a breaker failure).
    #[error("redis call timed out after {0:?}")]
    Timeout(Duration),
    /// A connection error (a breaker failure).
    #[error("redis connection error: {0}")]
    Connection(#[source] RedisError),
    /// Redis answered with an error (wrong type, script error, …): not a breaker failure.
    #[error("redis command error: {0}")]
    Command(#[source] RedisError),
}

impl RedisCallError {
    /// True when Redis could not be used (skipped, timeout, connection error), as opposed to a
    /// logical error reported by a reachable server.
    pub fn is_unavailable(&self) -> bool {
        !matches!(self, Self::Command(_))
    }
}

/// Whether a Redis error says "the server cannot be used" (a breaker failure) rather than "the
/// server refused this command".
pub fn is_transport_error(e: &RedisError) -> bool {
    matches!(
        e.kind(),
        ErrorKind::Io
            | ErrorKind::Parse
            | ErrorKind::AuthenticationFailed
            | ErrorKind::ClusterConnectionNotFound
            | ErrorKind::Server(ServerErrorKind::BusyLoading)
            | ErrorKind::Server(ServerErrorKind::MasterDown)
    ) || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
}

/// Which per-call timeout applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    /// `REDIS_READ_TIMEOUT`.
    Read,
    /// `REDIS_WRITE_TIMEOUT`.
    Write,
    /// A caller-chosen bound (job workers, long scans).
    Custom(Duration),
}

/// A handle on the process' Redis connection, its breaker and its timeouts. Cheap to clone.
/// Rate limiting, login throttles, revocation lookups and the job queue run their commands and
/// scripts through it so that they share the breaker named `redis`.
#[derive(Clone)]
pub struct RedisHandle {
    shared: Arc<HandleShared>,
}

struct HandleShared {
    client: redis::Client,
    connection: ConnectionManager,
    breaker: CircuitBreaker,
    config: RedisConfig,
    /// Outcome of the last call that reached (or failed to reach) the server.
    up: AtomicBool,
}

impl RedisHandle {
    /// Builds the lazy connection. Fails only for an invalid URL; never touches the network.
    pub(crate) fn new(config: RedisConfig, breaker: CircuitBreaker) -> Result<Self, RedisError> {
        let client = redis::Client::open(config.url.as_str())?;
        // The defaults retry a connection six times with a 1 s connect timeout and a 500 ms
        // response timeout: use the configured dial timeout and retries instead, and no
        // response timeout (every call is bounded by `call` itself).
        let manager_config = ConnectionManagerConfig::new()
            .set_number_of_retries(config.max_retries)
            .set_connection_timeout(Some(config.dial_timeout))
            .set_response_timeout(None)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_secs(1));
        let connection = ConnectionManager::new_lazy_with_config(client.clone(), manager_config)?;
        Ok(Self { shared: Arc::new(HandleShared { client, connection, breaker, config, up: AtomicBool::new(false) }) })
    }

    /// Runs one call through the breaker with the timeout of `kind`.
    ///
    /// `f` receives a clone of the multiplexed connection. A skipped call is not sent. A timeout
    /// or a connection error is reported to the breaker as a failure; a reply, including a `nil`
    /// or a Redis error reply, as a success.
    pub async fn call<T, F, Fut>(&self, kind: CallKind, f: F) -> Result<T, RedisCallError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        let permit = self.shared.breaker.try_acquire().map_err(|_| RedisCallError::Skipped)?;
        let limit = self.timeout(kind);
        // Every arm reports its outcome to the breaker and the up flag before mapping the result;
        // the arms look alike on purpose so each outcome's verdict reads on its own.
        match tokio::time::timeout(limit, f(self.shared.connection.clone())).await {
            Err(_) => {
                permit.failure();
                self.set_up(false);
                Err(RedisCallError::Timeout(limit))
            }
            Ok(Ok(value)) => {
                permit.success();
                self.set_up(true);
                Ok(value)
            }
            // Same failure bookkeeping as the timeout arm above: a transport error counts against
            // the breaker.
            Ok(Err(e)) if is_transport_error(&e) => {
                permit.failure();
                self.set_up(false);
                Err(RedisCallError::Connection(e))
            }
            Ok(Err(e)) => {
                permit.success();
                self.set_up(true);
                Err(RedisCallError::Command(e))
            }
        }
    }

    /// `PING` through the breaker with the read timeout.
    pub async fn ping(&self) -> Result<(), RedisCallError> {
        self.call(
            CallKind::Read,
            |mut c| async move { redis::cmd("PING").query_async::<String>(&mut c).await.map(|_| ()) },
        )
        .await
    }

    /// The breaker named `redis`.
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.shared.breaker
    }

    /// "Redis available" of docs/jobs.md#routing: configured (always, for a handle) and the breaker not open.
    pub fn is_available(&self) -> bool {
        self.shared.breaker.allows_calls()
    }

    /// Whether the last call reached the server (false before the first call).
    pub fn is_up(&self) -> bool {
        self.shared.up.load(Ordering::Acquire)
    }

    /// The client, to open dedicated connections (pub/sub, blocking commands).
    pub fn client(&self) -> &redis::Client {
        &self.shared.client
    }

    /// The connection settings.
    pub fn config(&self) -> &RedisConfig {
        &self.shared.config
    }

    /// The timeout a call of `kind` gets.
    pub fn timeout(&self, kind: CallKind) -> Duration {
        match kind {
            CallKind::Read => self.shared.config.read_timeout,
            CallKind::Write => self.shared.config.write_timeout,
            CallKind::Custom(d) => d,
        }
    }

    pub(crate) fn set_up(&self, up: bool) {
        let was = self.shared.up.swap(up, Ordering::AcqRel);
        if was != up {
            telemetry::redis_up(up);
        }
    }
}

impl std::fmt::Debug for RedisHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisHandle").field("config", &self.shared.config).field("up", &self.is_up()).finish()
    }
}
