//! The HTTP/1.1 accept loop. Used instead of `axum::serve` because that applies no timeout to a
//! connection, so a client that trickles its request, never reads its response, or keeps a
//! connection open without using it holds a task and a socket forever.
//!
//! Every connection runs under three deadlines, enforced by [`TimedIo`] around the socket:
//! - `READ_TIMEOUT`: a request, head and body, must arrive within it, counted from its first
//!   byte (on a new connection, from the accept);
//! - `WRITE_TIMEOUT`: a response must be written within it, counted from the moment the handler
//!   produced it (a client that does not read its answer is cut off then);
//! - `IDLE_TIMEOUT`: a keep-alive connection may wait that long for its next request.
//!
//! While a handler runs nothing is expected from the client, so no read deadline applies then;
//! the handler deadline (`REQUEST_TIMEOUT`) bounds that time. A `text/event-stream` response is
//! meant to last: for it `WRITE_TIMEOUT` bounds each write instead of the whole response (every
//! write that makes progress, heartbeats included, moves the deadline on), so a healthy stream
//! is never cut and a client that stops reading still is. A connection cut by a deadline is
//! counted in `http_connection_timeouts_total{kind}`. A graceful stop waits for the connections in
//! flight; the caller bounds the wait with `SHUTDOWN_TIMEOUT`.

use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use bytes::Bytes;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker, ready};
use std::time::Duration;
use taskify_domain::metric_names as names;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;
use tower::{Service, ServiceExt};

/// The three connection deadlines.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub read: Duration,
    pub write: Duration,
    pub idle: Duration,
}

/// Serves `app` on `listener` until `stop` is cancelled, then waits for open connections. While
/// `draining` is set, every response closes its connection, so keep-alive clients (a proxy's
/// upstream pool) reconnect elsewhere before the listener closes.
pub async fn serve<S>(
    listener: TcpListener,
    app: S,
    timeouts: Timeouts,
    draining: Arc<AtomicBool>,
    stop: CancellationToken,
) where
    S: Service<Request, Response = Response, Error = Infallible, Future: Send + 'static>
        + Clone
        + Send
        + Sync
        + 'static,
{
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    // hyper's own header timer would also close idle keep-alive connections after the read
    // timeout; `TimedIo` keeps the two apart.
    http.timer(TokioTimer::new()).header_read_timeout(None).keep_alive(true);
    loop {
        let (stream, peer) = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(connection) => connection,
                Err(e) => {
                    // Usually out of file descriptors: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let clock = Arc::new(ConnClock::new(timeouts));
        let io = TimedIo::new(stream, clock.clone());
        let router = app.clone();
        let draining = draining.clone();
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            clock.request_started(request.body().is_end_stream());
            let request = request.map(|body| axum::body::Body::new(RequestBody { inner: body, clock: clock.clone() }));
            let response = router.clone().oneshot(request);
            let clock = clock.clone();
            let draining = draining.clone();
            async move {
                let mut response = response.await?;
                let streaming = response
                    .headers()
                    .get(header::CONTENT_TYPE)
                    .is_some_and(|ct| ct.as_bytes().starts_with(b"text/event-stream"));
                clock.response_started(streaming);
                if draining.load(Ordering::Relaxed) {
                    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
                }
                Ok::<_, std::convert::Infallible>(
                    response.map(|body| axum::body::Body::new(ResponseBody { inner: body, clock })),
                )
            }
        });
        let connection = http.serve_connection(TokioIo::new(io), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Which deadline cut a connection (the `kind` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Read,
    Write,
    Idle,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Read => "read",
            Kind::Write => "write",
            Kind::Idle => "idle",
        }
    }
}

/// What the connection waits for from the client.
#[derive(Debug, Clone, Copy)]
enum Reading {
    /// The first byte of a request, by `deadline` (`Read` on a new connection, `Idle` after a
    /// response).
    Waiting { deadline: Instant, kind: Kind },
    /// The rest of a request whose first byte arrived.
    Request { deadline: Instant },
    /// Nothing: a handler runs on a complete request.
    Nothing,
}

#[derive(Debug)]
struct ClockState {
    reading: Reading,
    /// Set when a response is ready; cleared by the next request.
    write_deadline: Option<Instant>,
    /// The task waiting on a read with no deadline: it is woken when a deadline starts, so that
    /// its timer gets armed (hyper does not poll the socket again on its own).
    read_waker: Option<Waker>,
}

/// The deadlines of one connection, moved along by the socket, the service and the bodies.
#[derive(Debug)]
struct ConnClock {
    timeouts: Timeouts,
    state: Mutex<ClockState>,
    /// The response being written is a stream: progress moves the write deadline on.
    streaming: AtomicBool,
}

impl ConnClock {
    fn new(timeouts: Timeouts) -> Self {
        let deadline = Instant::now() + timeouts.read;
        Self {
            timeouts,
            state: Mutex::new(ClockState {
                reading: Reading::Waiting { deadline, kind: Kind::Read },
                write_deadline: None,
                read_waker: None,
            }),
            streaming: AtomicBool::new(false),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ClockState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Bytes arrived: the first byte of a request starts its read deadline.
    fn bytes_read(&self) {
        let mut state = self.state();
        if let Reading::Waiting { .. } = state.reading {
            state.reading = Reading::Request { deadline: Instant::now() + self.timeouts.read };
        }
    }

    /// hyper parsed a request head; with no body to come the client owes nothing more.
    fn request_started(&self, body_complete: bool) {
        let mut state = self.state();
        state.write_deadline = None;
        if body_complete {
            state.reading = Reading::Nothing;
        } else if let Reading::Waiting { .. } = state.reading {
            // A head that was already buffered (pipelining): its body starts now.
            state.reading = Reading::Request { deadline: Instant::now() + self.timeouts.read };
        }
    }

    fn body_complete(&self) {
        let mut state = self.state();
        if let Reading::Request { .. } = state.reading {
            state.reading = Reading::Nothing;
        }
    }

    fn response_started(&self, streaming: bool) {
        self.streaming.store(streaming, Ordering::Relaxed);
        self.state().write_deadline = Some(Instant::now() + self.timeouts.write);
    }

    /// A stream produced bytes or wrote some: its pending write gets a full `WRITE_TIMEOUT`
    /// again (counted from when a quiet stream speaks, not from its last write).
    fn stream_progress(&self) {
        if self.streaming.load(Ordering::Relaxed) {
            let mut state = self.state();
            if state.write_deadline.is_some() {
                state.write_deadline = Some(Instant::now() + self.timeouts.write);
            }
        }
    }

    /// hyper is done with a response body: the connection waits for the next request.
    fn response_done(&self) {
        self.streaming.store(false, Ordering::Relaxed);
        let waker = {
            let mut state = self.state();
            state.reading = Reading::Waiting { deadline: Instant::now() + self.timeouts.idle, kind: Kind::Idle };
            state.read_waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// The deadline of a read that is not ready; without one, `waker` is kept to be woken when
    /// a deadline starts.
    fn read_deadline(&self, waker: &Waker) -> Option<(Instant, Kind)> {
        let mut state = self.state();
        match state.reading {
            Reading::Waiting { deadline, kind } => Some((deadline, kind)),
            Reading::Request { deadline } => Some((deadline, Kind::Read)),
            Reading::Nothing => {
                if !state.read_waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
                    state.read_waker = Some(waker.clone());
                }
                None
            }
        }
    }

    fn write_deadline(&self) -> Option<Instant> {
        self.state().write_deadline
    }
}

/// The socket of one connection, failing a read or write that waits past its deadline.
struct TimedIo {
    inner: TcpStream,
    clock: Arc<ConnClock>,
    sleep: Pin<Box<Sleep>>,
    /// The deadline `sleep` is set to.
    armed: Option<Instant>,
    timed_out: bool,
}

impl TimedIo {
    fn new(inner: TcpStream, clock: Arc<ConnClock>) -> Self {
        let now = Instant::now();
        Self { inner, clock, sleep: Box::pin(tokio::time::sleep_until(now)), armed: None, timed_out: false }
    }

    /// Called when the socket is not ready: registers the deadline's timer, or fails once it has
    /// passed.
    fn pending(&mut self, cx: &mut Context<'_>, deadline: Option<(Instant, Kind)>) -> Poll<io::Error> {
        let Some((deadline, kind)) = deadline else {
            return Poll::Pending;
        };
        if self.armed != Some(deadline) {
            self.sleep.as_mut().reset(deadline);
            self.armed = Some(deadline);
        }
        ready!(self.sleep.as_mut().poll(cx));
        if !self.timed_out {
            self.timed_out = true;
            metrics::counter!(names::HTTP_CONNECTION_TIMEOUTS_TOTAL, "kind" => kind.label()).increment(1);
        }
        Poll::Ready(io::Error::new(io::ErrorKind::TimedOut, format!("{} timeout", kind.label())))
    }

    fn write_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let deadline = self.clock.write_deadline().map(|d| (d, Kind::Write));
        self.pending(cx, deadline)
    }
}

impl AsyncRead for TimedIo {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.clock.bytes_read();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                let deadline = this.clock.read_deadline(cx.waker());
                this.pending(cx, deadline).map(Err)
            }
        }
    }
}

impl AsyncWrite for TimedIo {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write(cx, data) {
            Poll::Pending => this.write_pending(cx).map(Err),
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    this.clock.stream_progress();
                }
                Poll::Ready(Ok(n))
            }
            done => done,
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write_vectored(cx, data) {
            Poll::Pending => this.write_pending(cx).map(Err),
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    this.clock.stream_progress();
                }
                Poll::Ready(Ok(n))
            }
            done => done,
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Pending => this.write_pending(cx).map(Err),
            done => done,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_shutdown(cx) {
            Poll::Pending => this.write_pending(cx).map(Err),
            done => done,
        }
    }
}

/// A request body that tells the clock when the client has sent all of it.
struct RequestBody {
    inner: Incoming,
    clock: Arc<ConnClock>,
}

impl HttpBody for RequestBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        if frame.is_none() || this.inner.is_end_stream() {
            // The rest of this impl (is_end_stream, size_hint) matches ResponseBody's below: two body types, each
            // telling the clock its own event; a generic wrapper would not be simpler.
            this.clock.body_complete();
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that tells the clock when hyper is done with it (ended or dropped).
struct ResponseBody {
    inner: axum::body::Body,
    clock: Arc<ConnClock>,
}

impl HttpBody for ResponseBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        let frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        if matches!(frame, Some(Ok(_))) {
            // Same pass-through as RequestBody's impl above, with the response-side clock event.
            this.clock.stream_progress();
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        self.clock.response_done();
    }
}
