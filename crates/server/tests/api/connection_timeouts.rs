//! The three connection deadlines of the accept loop, each against a slow client written by hand
//! over TCP: `READ_TIMEOUT` (a request head or body that trickles in), `WRITE_TIMEOUT` (a client
//! that does not read its answers) and `IDLE_TIMEOUT` (a keep-alive connection left unused), plus
//! the shipped nginx's upstream keep-alive, which must end before the application's.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::helpers::{ApiClient, TestApp, eventually, metric_value, metrics_text};
use crate::sqlite_only;

/// Upper bound for anything the server should do promptly; generous for a loaded machine.
const PATIENCE: Duration = Duration::from_secs(30);

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(("127.0.0.1", app.port)).await.expect("the server accepts connections")
}

/// Reads one response with a `Content-Length` body from a keep-alive connection: its status, or
/// `None` when the server closed the connection first.
async fn read_one_response(stream: &mut TcpStream) -> Option<u16> {
    let mut received = Vec::new();
    let mut buffer = [0u8; 8192];
    let read = async {
        loop {
            if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&received[..end]).to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|line| line.strip_prefix("content-length:"))
                    .and_then(|value| value.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if received.len() >= end + 4 + length {
                    return head.split_whitespace().nth(1).and_then(|code| code.parse().ok());
                }
            }
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    };
    tokio::time::timeout(PATIENCE, read).await.expect("the server answers or closes the connection")
}

/// Reads until the server closes the connection (EOF or reset) and returns the bytes read;
/// fails if it stays open for [`PATIENCE`].
async fn read_until_closed(stream: &mut TcpStream) -> usize {
    let mut total = 0;
    let mut buffer = vec![0u8; 64 * 1024];
    let read = async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return total,
                Ok(n) => total += n,
            }
        }
    };
    tokio::time::timeout(PATIENCE, read).await.expect("the server closes the connection")
}

fn get(path: &str, port: u16) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n")
}

/// Sends `head` and then `body_len` body bytes (none when `body_len` is 0, the head itself is then
/// trickled), one byte every 100 ms, and returns whether the server ended the connection before
/// everything was sent.
async fn trickle(app: &TestApp, head: &str, body_len: usize) -> bool {
    let stream = connect(app).await;
    let (mut reader, mut writer) = stream.into_split();
    let closed = tokio::spawn(async move {
        let mut buffer = [0u8; 4096];
        loop {
            match reader.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    });
    let (mut upfront, mut slowly) = (head.as_bytes().to_vec(), vec![b' '; body_len]);
    if body_len == 0 {
        slowly = std::mem::take(&mut upfront);
    }
    if writer.write_all(&upfront).await.is_err() {
        return true;
    }
    for byte in slowly {
        if closed.is_finished() || writer.write_all(&[byte]).await.is_err() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    closed.is_finished()
}

sqlite_only!(
    a_request_body_that_trickles_in_is_cut_at_the_read_timeout,
    overrides = &[("READ_TIMEOUT", "1s"), ("REQUEST_TIMEOUT", "10m")],
    |app| async move {
        // 600 bytes at 10 per second would take a minute; the handler deadline is 10 minutes.
        let head = format!(
            "POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\n\
             Content-Length: 600\r\n\r\n",
            app.port
        );
        assert!(trickle(&app, &head, 600).await, "a body trickling in past READ_TIMEOUT ends the connection");
        let metrics = metrics_text(&app.api).await;
        assert!(metric_value(&metrics, "http_connection_timeouts_total", &[("kind", "read")]).unwrap_or(0.0) >= 1.0);
    }
);

sqlite_only!(
    a_request_head_that_trickles_in_is_cut_at_the_read_timeout,
    overrides = &[("READ_TIMEOUT", "1s")],
    |app| async move {
        let head =
            format!("GET /live HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nX-Padding: {}\r\n\r\n", app.port, "a".repeat(600));
        assert!(trickle(&app, &head, 0).await, "a head trickling in past READ_TIMEOUT ends the connection");
    }
);

// One test per timeout through sqlite_only!, same header each: the overrides and expectations differ.
sqlite_only!(
    an_idle_keep_alive_connection_outlives_the_read_timeout,
    overrides = &[("READ_TIMEOUT", "1s"), ("IDLE_TIMEOUT", "10m")],
    |app| async move {
        let mut idle = connect(&app).await;
        idle.write_all(get("/live", app.port).as_bytes()).await.expect("the request is sent");
        assert_eq!(read_one_response(&mut idle).await, Some(200));
        // A connection opened after that one went idle, which sends nothing, is closed at the
        // read timeout: by then the idle connection has been idle longer than READ_TIMEOUT.
        let mut silent = connect(&app).await;
        assert_eq!(read_until_closed(&mut silent).await, 0, "a silent connection is closed without an answer");
        idle.write_all(get("/live", app.port).as_bytes()).await.expect("the idle connection is still open");
        assert_eq!(read_one_response(&mut idle).await, Some(200), "the idle connection still serves");
    }
);

// Same test header as the read-timeout case above, with the idle timeout.
sqlite_only!(
    an_idle_keep_alive_connection_is_closed_at_the_idle_timeout,
    overrides = &[("READ_TIMEOUT", "10m"), ("IDLE_TIMEOUT", "1s")],
    |app| async move {
        let mut idle = connect(&app).await;
        idle.write_all(get("/live", app.port).as_bytes()).await.expect("the request is sent");
        assert_eq!(read_one_response(&mut idle).await, Some(200));
        assert_eq!(read_until_closed(&mut idle).await, 0, "the idle connection is closed, with nothing more sent");
        // A new client: the harness's pooled connection has been idle past IDLE_TIMEOUT too.
        let metrics = metrics_text(&ApiClient::new(app.api.address.clone())).await;
        assert!(metric_value(&metrics, "http_connection_timeouts_total", &[("kind", "idle")]).unwrap_or(0.0) >= 1.0);
    }
);

/// Requests pipelined by the non-reading client: far more response bytes than the socket
/// buffers of both ends hold, so the server's writes block.
const PIPELINED: usize = 200;

sqlite_only!(
    a_client_that_does_not_read_is_cut_at_the_write_timeout,
    overrides = &[("WRITE_TIMEOUT", "1s")],
    |app| async move {
        let socket = TcpSocket::new_v4().expect("a socket");
        socket.set_recv_buffer_size(4096).expect("a small receive buffer");
        let mut stream =
            socket.connect(([127, 0, 0, 1], app.port).into()).await.expect("the server accepts connections");
        let request = get("/api-docs/openapi.json", app.port);
        stream.write_all(request.repeat(PIPELINED).as_bytes()).await.expect("the requests are sent");
        let document = app.api.get("/api-docs/openapi.json").await.bytes().await.expect("the document").len();

        eventually("a write timeout", PATIENCE, || async {
            let metrics = metrics_text(&app.api).await;
            metric_value(&metrics, "http_connection_timeouts_total", &[("kind", "write")]).filter(|n| *n >= 1.0)
        })
        .await;
        let received = read_until_closed(&mut stream).await;
        assert!(
            received < PIPELINED * document,
            "the connection ended before all {PIPELINED} answers ({received} bytes)"
        );
    }
);

/// nginx must close an idle upstream connection before Taskify does, or it reuses a connection the
/// application is closing and the request fails with a 502.
#[test]
fn the_shipped_nginx_keeps_upstream_connections_shorter_than_idle_timeout() {
    let conf = include_str!("../../../../deploy/nginx/nginx.conf");
    let upstream = conf.split("upstream ").nth(1).expect("nginx.conf has an upstream block");
    let block = &upstream[..upstream.find('}').expect("the upstream block ends")];
    let seconds: u64 = block
        .lines()
        .map(|line| line.split('#').next().unwrap_or_default().trim())
        .find_map(|line| line.strip_prefix("keepalive_timeout"))
        .and_then(|value| value.trim().trim_end_matches(';').trim_end_matches('s').parse().ok())
        .expect("the upstream block sets keepalive_timeout in seconds");
    let config = taskify_server::Config::from_lookup(|_| None).expect("the default configuration is valid");
    assert!(
        Duration::from_secs(seconds) < config.idle_timeout,
        "nginx upstream keepalive_timeout {seconds}s must be below IDLE_TIMEOUT {:?}",
        config.idle_timeout
    );
}
