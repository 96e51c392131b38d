//! The audit sink (docs/authorization.md#audit): requests hand rows to a bounded buffer; one background writer
//! stores them in batches. Rows are never dropped while the process runs: a full buffer makes
//! the request wait (then answer 503 before its effect), a database that cannot be reached is
//! retried with exponential backoff, and a row the database refuses is stored in a sanitised
//! form instead of holding up the rows around it. Shutdown flushes what is buffered.

use crate::config::AuditConfig;
use crate::error::{CoreError, CoreResult};
use serde_json::{Map, Value};
use std::collections::VecDeque;
use std::time::Duration;
use taskify_domain::AuditEntry;
use taskify_domain::audit::{bounded_context, context_limits, width};
use taskify_domain::metric_names as names;
use taskify_domain::text::storable;
use taskify_store::{Store, StoreError, StoreResult};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long shutdown keeps trying to write the last rows.
const SHUTDOWN_FLUSH_LIMIT: Duration = Duration::from_secs(10);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Exports the writer's counters at zero, so they are scraped before their first event.
pub fn register_metrics() {
    for name in [names::AUDIT_ROWS_WRITTEN_TOTAL, names::AUDIT_WRITE_ERRORS_TOTAL, names::AUDIT_ROWS_SANITIZED_TOTAL] {
        metrics::counter!(name).absolute(0);
    }
}

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
        let writer =
            Writer { backend: store, batch_size: config.batch_size.max(1), flush_interval: config.flush_interval };
        let handle = tokio::spawn(writer.run(rx, shutdown));
        (Self { tx, enqueue_timeout: config.enqueue_timeout }, handle)
    }

    /// Buffers one row, waiting up to `AUDIT_ENQUEUE_TIMEOUT` for space.
    pub async fn record(&self, entry: AuditEntry) -> CoreResult<()> {
        let result = self.tx.send_timeout(entry, self.enqueue_timeout).await;
        metrics::gauge!(names::AUDIT_QUEUE_DEPTH).set(self.depth() as f64);
        result.map_err(|_| CoreError::Unavailable { reason: "audit buffer full".into(), retry_after_secs: Some(1) })
    }

    /// Rows waiting to be written.
    pub fn depth(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }
}

/// Where the writer puts rows: the store, or a stand-in in the unit tests.
trait AuditBackend: Send + Sync + 'static {
    fn insert(&self, rows: &[AuditEntry]) -> impl Future<Output = StoreResult<()>> + Send;
}

impl AuditBackend for Store {
    fn insert(&self, rows: &[AuditEntry]) -> impl Future<Output = StoreResult<()>> + Send {
        self.insert_audit_batch(rows)
    }
}

struct Writer<B> {
    backend: B,
    batch_size: usize,
    flush_interval: Duration,
}

impl<B: AuditBackend> Writer<B> {
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
            metrics::gauge!(names::AUDIT_QUEUE_DEPTH).set(rx.len() as f64);
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

    /// Writes the batch, retrying with backoff (1 s doubling to 30 s) while the database cannot
    /// take it. Without `give_up` it retries for as long as the process runs, and a shutdown
    /// request hands the unwritten rows back in `batch` for the final flush; with it, rows still
    /// unwritten at that moment are counted in one error line.
    async fn write_with_retry(
        &self,
        batch: &mut Vec<AuditEntry>,
        shutdown: &CancellationToken,
        give_up: Option<tokio::time::Instant>,
    ) {
        if batch.is_empty() {
            return;
        }
        let mut pending = Pending::new(std::mem::take(batch));
        let mut backoff = Duration::from_secs(1);
        loop {
            match self.drain(&mut pending).await {
                Ok(()) => return,
                Err(err) => {
                    metrics::counter!(names::AUDIT_WRITE_ERRORS_TOTAL).increment(1);
                    tracing::warn!(error = %err, rows = pending.rows(), retry_in = ?backoff, "audit batch write failed");
                }
            }
            let now = tokio::time::Instant::now();
            let wake = now + backoff;
            if let Some(limit) = give_up
                && wake > limit
            {
                tracing::error!(rows = pending.rows(), "audit rows could not be written before shutdown");
                return;
            }
            // While running, a shutdown request cuts the wait short; the final flush follows.
            if give_up.is_none() {
                tokio::select! {
                    () = tokio::time::sleep_until(wake) => {}
                    () = shutdown.cancelled() => {
                        *batch = pending.into_rows();
                        return;
                    }
                }
            } else {
                tokio::time::sleep_until(wake).await;
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Writes everything pending. A statement the database refuses for its values is split in
    /// halves until each refused row stands alone; that row is then stored sanitised (and, if
    /// even that is refused, in its minimal form). Returns the first error worth retrying the
    /// whole remainder for, leaving what is unwritten in `pending`: the database could not be
    /// reached, or it refuses even a row of fixed values, so the fault is not in the rows.
    async fn drain(&self, pending: &mut Pending) -> Result<(), StoreError> {
        while let Some(work) = pending.0.pop_front() {
            match work {
                Work::Rows(mut rows) => match self.backend.insert(&rows).await {
                    Ok(()) => metrics::counter!(names::AUDIT_ROWS_WRITTEN_TOTAL).increment(rows.len() as u64),
                    Err(err) if err.is_transient() => {
                        pending.0.push_front(Work::Rows(rows));
                        return Err(err);
                    }
                    Err(err) => {
                        metrics::counter!(names::AUDIT_WRITE_ERRORS_TOTAL).increment(1);
                        if rows.len() == 1 {
                            let row = Box::new(rows.remove(0));
                            tracing::warn!(error = %err, audit_id = %row.id, action = %row.action,
                                "the database refused an audit row; storing it sanitised");
                            pending.0.push_front(Work::Refused { row, reason: err.to_string(), form: Form::Sanitized });
                        } else {
                            tracing::debug!(error = %err, rows = rows.len(), "audit batch refused; isolating the rows");
                            let second = rows.split_off(rows.len() / 2);
                            pending.0.push_front(Work::Rows(second));
                            pending.0.push_front(Work::Rows(rows));
                        }
                    }
                },
                Work::Refused { row, reason, form } => {
                    let stored = match form {
                        Form::Sanitized => sanitized(&row, &reason),
                        Form::Minimal => minimal(&row, &reason),
                    };
                    match self.backend.insert(std::slice::from_ref(&stored)).await {
                        Ok(()) => {
                            metrics::counter!(names::AUDIT_ROWS_WRITTEN_TOTAL).increment(1);
                            metrics::counter!(names::AUDIT_ROWS_SANITIZED_TOTAL).increment(1);
                        }
                        Err(err) if err.is_transient() || form == Form::Minimal => {
                            pending.0.push_front(Work::Refused { row, reason, form });
                            return Err(err);
                        }
                        Err(err) => {
                            metrics::counter!(names::AUDIT_WRITE_ERRORS_TOTAL).increment(1);
                            tracing::warn!(error = %err, audit_id = %row.id,
                                "the database refused a sanitised audit row; storing its minimal form");
                            pending.0.push_front(Work::Refused { row, reason, form: Form::Minimal });
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Rows still to be written, in order.
struct Pending(VecDeque<Work>);

enum Work {
    /// Rows to write in one statement.
    Rows(Vec<AuditEntry>),
    /// A row the database refused on its own, with the database's reason.
    Refused { row: Box<AuditEntry>, reason: String, form: Form },
}

/// The form a refused row is stored in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// Every text escaped and capped at its column width, the context bounded.
    Sanitized,
    /// Only the id, time, user, action and decision: no request-provided text at all.
    Minimal,
}

impl Pending {
    fn new(rows: Vec<AuditEntry>) -> Self {
        Self(VecDeque::from([Work::Rows(rows)]))
    }

    fn rows(&self) -> usize {
        self.0.iter().map(|w| if let Work::Rows(rows) = w { rows.len() } else { 1 }).sum()
    }

    /// The original rows, refused ones included, to try again from the start.
    fn into_rows(self) -> Vec<AuditEntry> {
        let mut out = Vec::new();
        for work in self.0 {
            match work {
                Work::Rows(rows) => out.extend(rows),
                Work::Refused { row, .. } => out.push(*row),
            }
        }
        out
    }
}

/// Text in a form every database stores, within `max` characters.
fn fit(text: &str, max: usize) -> String {
    storable(text, max).into_owned()
}

fn fit_opt(text: Option<&str>, max: usize) -> Option<String> {
    text.map(|t| fit(t, max))
}

/// The context of a stored refused row: marked `"sanitized": true`, with the database's reason.
fn marked_context(reason: &str, original: Option<&Value>, minimal: bool) -> Value {
    let mut context = Map::new();
    context.insert("sanitized".into(), Value::Bool(true));
    context.insert("refused_because".into(), Value::String(fit(reason, context_limits::STRING)));
    if minimal {
        context.insert("minimal".into(), Value::Bool(true));
    } else if let Some(original) = original {
        match bounded_context(original).0 {
            Value::Object(members) => {
                for (key, value) in members {
                    context.entry(key).or_insert(value);
                }
            }
            other => {
                context.insert("original".into(), other);
            }
        }
    }
    Value::Object(context)
}

// Field by field on purpose, like `minimal` below (see its doc): every column is a visible choice.
/// `row` with every text escaped and capped at its column width and the context bounded.
fn sanitized(row: &AuditEntry, reason: &str) -> AuditEntry {
    AuditEntry {
        id: row.id,
        timestamp: row.timestamp,
        user_id: row.user_id,
        action: fit(&row.action, width::ACTION),
        resource: fit(&row.resource, width::RESOURCE),
        resource_id: fit_opt(row.resource_id.as_deref(), width::RESOURCE_ID),
        decision: row.decision,
        reason: fit_opt(row.reason.as_deref(), width::REASON),
        policy_ids: row.policy_ids.iter().take(context_limits::POLICY_IDS).map(|p| fit(p, width::POLICY_ID)).collect(),
        request_id: fit_opt(row.request_id.as_deref(), width::REQUEST_ID),
        ip_address: fit_opt(row.ip_address.as_deref(), width::IP_ADDRESS),
        user_agent: fit_opt(row.user_agent.as_deref(), width::USER_AGENT),
        method: fit_opt(row.method.as_deref(), width::METHOD),
        path: fit_opt(row.path.as_deref(), width::PATH),
        context: Some(marked_context(reason, row.context.as_ref(), false)),
    }
}

// Repeats `sanitized` above field by field on purpose (see the doc below).
/// `row` reduced to what the server itself decided: nothing a request sent survives. Spelled out
/// field by field like [`sanitized`] on purpose: every column is a visible choice (kept, capped
/// or dropped), and a new column fails to compile here until someone decides.
fn minimal(row: &AuditEntry, reason: &str) -> AuditEntry {
    AuditEntry {
        id: row.id,
        timestamp: row.timestamp,
        user_id: row.user_id,
        action: fit(&row.action, width::ACTION),
        resource: fit(&row.resource, width::RESOURCE),
        resource_id: None,
        decision: row.decision,
        reason: None,
        policy_ids: Vec::new(),
        request_id: None,
        ip_address: None,
        user_agent: None,
        method: None,
        path: None,
        context: Some(marked_context(reason, None, true)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashSet;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use taskify_domain::Decision;
    use uuid::Uuid;

    /// A database that, like PostgreSQL, refuses a whole statement when one of its rows holds a
    /// NUL, and that can be unreachable for a number of statements.
    #[derive(Default)]
    struct FakeDb {
        stored: Mutex<Vec<AuditEntry>>,
        outages: AtomicUsize,
        refuse_everything: bool,
        statements: AtomicUsize,
    }

    fn holds_nul(value: &Value) -> bool {
        match value {
            Value::String(s) => s.contains('\0'),
            Value::Array(items) => items.iter().any(holds_nul),
            Value::Object(members) => members.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
            _ => false,
        }
    }

    impl AuditBackend for Arc<FakeDb> {
        async fn insert(&self, rows: &[AuditEntry]) -> StoreResult<()> {
            self.statements.fetch_add(1, Ordering::SeqCst);
            if self.outages.load(Ordering::SeqCst) > 0 {
                self.outages.fetch_sub(1, Ordering::SeqCst);
                return Err(StoreError::Unavailable(sqlx::Error::PoolTimedOut));
            }
            let refused = rows.iter().any(|r| holds_nul(&serde_json::to_value(r).expect("a row serialises")));
            if self.refuse_everything || refused {
                return Err(StoreError::Query(sqlx::Error::Protocol("invalid byte sequence: 0x00".into())));
            }
            let mut stored = self.stored.lock().expect("not poisoned");
            for row in rows {
                assert!(stored.iter().all(|s| s.id != row.id), "row {} written twice", row.id);
                stored.push(row.clone());
            }
            Ok(())
        }
    }

    fn writer(db: &Arc<FakeDb>) -> Writer<Arc<FakeDb>> {
        Writer { backend: Arc::clone(db), batch_size: 100, flush_interval: Duration::from_millis(10) }
    }

    fn row(i: usize) -> AuditEntry {
        // A complete row spelled out, as server/tests/api/hardening_audit.rs does for its rows:
        // this unit test cannot reach the server's test helpers, and a literal shows every column.
        AuditEntry {
            id: Uuid::now_v7(),
            timestamp: taskify_domain::time::now(),
            user_id: None,
            action: "auth:login".into(),
            resource: "auth".into(),
            resource_id: None,
            decision: Decision::Denied,
            reason: Some("invalid credentials".into()),
            policy_ids: Vec::new(),
            request_id: Some(format!("req-{i}")),
            ip_address: Some("127.0.0.1".into()),
            user_agent: Some("tests".into()),
            method: Some("POST".into()),
            path: Some("/api/v1/auth/login".into()),
            context: Some(json!({ "query": { "i": i.to_string() } })),
        }
    }

    fn poisoned(i: usize) -> AuditEntry {
        AuditEntry {
            path: Some(format!("/api/v1/auth/logout\0{i}")),
            user_agent: Some("ua\0".into()),
            context: Some(json!({ "query": { "x\0": "\0" } })),
            ..row(i)
        }
    }

    #[tokio::test]
    async fn refused_rows_are_stored_sanitised_and_the_others_unchanged() {
        let db = Arc::new(FakeDb::default());
        let rows: Vec<AuditEntry> = (0..64).map(|i| if i == 5 || i == 40 { poisoned(i) } else { row(i) }).collect();
        let mut pending = Pending::new(rows.clone());
        writer(&db).drain(&mut pending).await.expect("every row is stored");
        assert_eq!(pending.rows(), 0);

        let stored = db.stored.lock().expect("not poisoned").clone();
        let ids: HashSet<Uuid> = stored.iter().map(|r| r.id).collect();
        assert_eq!(ids, rows.iter().map(|r| r.id).collect::<HashSet<_>>(), "no row is lost");
        for original in &rows {
            let written = stored.iter().find(|r| r.id == original.id).expect("stored");
            if original.request_id.as_deref() == Some("req-5") || original.request_id.as_deref() == Some("req-40") {
                let context = written.context.as_ref().expect("a context");
                assert_eq!(context["sanitized"], true, "{written:?}");
                assert!(context["refused_because"].as_str().is_some_and(|r| r.contains("0x00")), "{context}");
                assert!(!holds_nul(&serde_json::to_value(written).expect("json")), "{written:?}");
                assert!(written.path.as_deref().is_some_and(|p| p.starts_with("/api/v1/auth/logout\\u0000")));
                assert_eq!(context["query"], json!({ "x\\u0000": "\\u0000" }));
                assert_eq!((written.action.as_str(), written.decision), ("auth:login", Decision::Denied));
            } else {
                assert_eq!(written, original, "a row the database accepts is stored as it was");
            }
        }
        // Halving finds each refused row in a few statements, not one statement per row.
        assert!(db.statements.load(Ordering::SeqCst) <= 30, "{} statements", db.statements.load(Ordering::SeqCst));
    }

    #[tokio::test]
    async fn an_unreachable_database_is_retried_without_touching_the_rows() {
        let db = Arc::new(FakeDb { outages: AtomicUsize::new(1), ..FakeDb::default() });
        let rows: Vec<AuditEntry> = (0..5).map(row).collect();
        let mut pending = Pending::new(rows.clone());
        let err = writer(&db).drain(&mut pending).await.expect_err("the database is down");
        assert!(err.is_transient());
        assert_eq!(pending.rows(), 5, "nothing is split or sanitised for a connection error");
        writer(&db).drain(&mut pending).await.expect("the database is back");
        assert_eq!(*db.stored.lock().expect("not poisoned"), rows);
    }

    #[tokio::test]
    async fn rows_a_database_refuses_even_in_minimal_form_are_kept_for_a_retry() {
        let db = Arc::new(FakeDb { refuse_everything: true, ..FakeDb::default() });
        let rows: Vec<AuditEntry> = (0..4).map(row).collect();
        let mut pending = Pending::new(rows.clone());
        let err = writer(&db).drain(&mut pending).await.expect_err("everything is refused");
        assert!(!err.is_transient());
        assert!(db.stored.lock().expect("not poisoned").is_empty());
        let kept: Vec<Uuid> = pending.into_rows().iter().map(|r| r.id).collect();
        let mut expected: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let mut kept_sorted = kept.clone();
        kept_sorted.sort();
        expected.sort();
        assert_eq!(kept_sorted, expected, "no row is dropped");
    }

    #[test]
    fn sanitised_rows_fit_their_columns() {
        let long = AuditEntry {
            method: Some("X".repeat(50)),
            user_agent: Some("\u{1}".repeat(1000)),
            path: Some("p".repeat(5000)),
            policy_ids: (0..100).map(|i| format!("policy-{i}")).collect(),
            ..row(1)
        };
        let stored = sanitized(&long, "SQLSTATE 22001: value too long");
        let chars = |s: &Option<String>| s.as_deref().map_or(0, |s| s.chars().count());
        assert_eq!(chars(&stored.method), width::METHOD);
        assert_eq!(chars(&stored.user_agent), width::USER_AGENT);
        assert_eq!(chars(&stored.path), width::PATH);
        assert_eq!(stored.policy_ids.len(), context_limits::POLICY_IDS);
        let minimal = minimal(&long, "refused");
        assert_eq!((minimal.path, minimal.context.expect("context")["minimal"].clone()), (None, json!(true)));
    }
}
