//! Waiting for a condition with a deadline: tests never sleep to synchronise, they poll the
//! condition and fail with its description when the deadline passes.

use std::future::Future;
use std::time::Duration;

/// What a probe reports: `bool` (holds or not) or `Option<T>` (the value once it is there).
pub trait Settled {
    /// What [`eventually`] returns once the probe has settled.
    type Value;
    /// `Some` once the condition holds.
    fn settled(self) -> Option<Self::Value>;
}

impl Settled for bool {
    type Value = ();
    fn settled(self) -> Option<()> {
        self.then_some(())
    }
}

impl<T> Settled for Option<T> {
    type Value = T;
    fn settled(self) -> Option<T> {
        self
    }
}

/// Polls `probe` every 10 ms until it settles, failing the test after `deadline`. For in-process
/// conditions that are cheap to check; a probe that sends HTTP requests to a server polls with
/// [`eventually_every`] and a longer interval.
pub async fn eventually<S, F, Fut>(what: &str, deadline: Duration, probe: F) -> S::Value
where
    S: Settled,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    eventually_every(what, deadline, Duration::from_millis(10), probe).await
}

/// Polls `probe` every `interval` until it settles, failing the test after `deadline`. The pause
/// between polls is not synchronisation: the condition decides.
pub async fn eventually_every<S, F, Fut>(what: &str, deadline: Duration, interval: Duration, mut probe: F) -> S::Value
where
    S: Settled,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    let give_up = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(value) = probe().await.settled() {
            return value;
        }
        assert!(tokio::time::Instant::now() < give_up, "timed out after {deadline:?} waiting for {what}");
        tokio::time::sleep(interval).await;
    }
}
