//! The audit sink (SPEC §3.6): requests hand rows to a bounded buffer; one background writer
//! stores them in batches. Rows are never dropped while the process runs: a full buffer makes
//! the request wait (then answer 503 before its effect), and a failing database is retried with
//! exponential backoff. Shutdown flushes what is buffered.

use crate::config::AuditConfig;
use crate::error::{CoreError, CoreResult};
use std::time::Duration;
use taskify_domain::AuditEntry;
use taskify_store::Store;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long shutdown keeps trying to write the last rows.
const SHUTDOWN_FLUSH_LIMIT: Duration = Duration::from_secs(10);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Where audit rows go. Cheap to clone.
#[derive(Clone)]
pub struct AuditSink {
    tx: mpsc::Sender<AuditEntry>,
    enqueue_timeout: Duration,
}

impl AuditSink {
    /// Starts the writer. It runs until `shutdown` is cancelled, then flushes and ends.
    pub fn start(store: Store, config: &AuditConfig, shutdown: CancellationToken) -> (Self, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(config.buffer_size.max(1));
        let writer = Writer { store, batch_size: config.batch_size.max(1), flush_interval: config.flush_interval };
        let handle = tokio::spawn(writer.run(rx, shutdown));
        (Self { tx, enqueue_timeout: config.enqueue_timeout }, handle)
    }

    /// Buffers one row, waiting up to `AUDIT_ENQUEUE_TIMEOUT` for space.
    pub async fn record(&self, entry: AuditEntry) -> CoreResult<()> {
        let result = self.tx.send_timeout(entry, self.enqueue_timeout).await;
        metrics::gauge!("audit_queue_depth").set(self.depth() as f64);
        result.map_err(|_| CoreError::Unavailable { reason: "audit buffer full".into(), retry_after_secs: Some(1) })
    }

    /// Rows waiting to be written.
    pub fn depth(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }
}

struct Writer {
    store: Store,
    batch_size: usize,
    flush_interval: Duration,
}

impl Writer {
    async fn run(self, mut rx: mpsc::Receiver<AuditEntry>, shutdown: CancellationToken) {
        let mut batch = Vec::with_capacity(self.batch_size);
        loop {
            let closed = tokio::select! {
                () = shutdown.cancelled() => true,
                n = rx.recv_many(&mut batch, self.batch_size) => n == 0,
            };
            if closed {
                break;
            }
            // Collect more rows for up to one flush interval, unless the batch is full already.
            let deadline = tokio::time::Instant::now() + self.flush_interval;
            while batch.len() < self.batch_size {
                let room = self.batch_size - batch.len();
                tokio::select! {
                    () = tokio::time::sleep_until(deadline) => break,
                    () = shutdown.cancelled() => break,
                    n = rx.recv_many(&mut batch, room) => if n == 0 { break },
                }
            }
            self.write_with_retry(&mut batch, &shutdown, None).await;
            metrics::gauge!("audit_queue_depth").set(rx.len() as f64);
        }
        // Shutdown: drain and write what is left, for at most SHUTDOWN_FLUSH_LIMIT.
        rx.close();
        let give_up = tokio::time::Instant::now() + SHUTDOWN_FLUSH_LIMIT;
        while let Ok(entry) = rx.try_recv() {
            batch.push(entry);
        }
        for chunk in batch.chunks(self.batch_size) {
            let mut chunk = chunk.to_vec();
            self.write_with_retry(&mut chunk, &shutdown, Some(give_up)).await;
        }
    }

    /// Writes the batch, retrying with backoff (1 s doubling to 30 s). Without `give_up` it
    /// retries for as long as the process runs; with it, rows still unwritten at that moment
    /// are counted in one error line.
    async fn write_with_retry(
        &self,
        batch: &mut Vec<AuditEntry>,
        shutdown: &CancellationToken,
        give_up: Option<tokio::time::Instant>,
    ) {
        if batch.is_empty() {
            return;
        }
        let mut backoff = Duration::from_secs(1);
        loop {
            match self.store.insert_audit_batch(batch).await {
                Ok(()) => {
                    metrics::counter!("audit_rows_written_total").increment(batch.len() as u64);
                    batch.clear();
                    return;
                }
                Err(err) => {
                    metrics::counter!("audit_write_errors_total").increment(1);
                    tracing::warn!(error = %err, rows = batch.len(), retry_in = ?backoff, "audit batch write failed");
                }
            }
            let now = tokio::time::Instant::now();
            let wake = now + backoff;
            if let Some(limit) = give_up
                && wake > limit
            {
                tracing::error!(rows = batch.len(), "audit rows could not be written before shutdown");
                batch.clear();
                return;
            }
            // While running, a shutdown request cuts the wait short; the final flush follows.
            if give_up.is_none() {
                tokio::select! {
                    () = tokio::time::sleep_until(wake) => {}
                    () = shutdown.cancelled() => return,
                }
            } else {
                tokio::time::sleep_until(wake).await;
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}
