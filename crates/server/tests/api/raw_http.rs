//! Oversize uploads, written by hand over a TCP connection: reqwest (built without its `stream`
//! feature) cannot send a chunked body, and it reports a broken pipe instead of the response when
//! the server answers 413 and closes before the body is written.

use std::collections::HashMap;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// A response read from a raw connection.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// Header names are lowercased.
    pub headers: HashMap<String, String>,
    pub body: String,
}

/// How a raw request frames its body.
#[derive(Clone, Copy, Debug)]
pub enum Framing {
    /// A declared `Content-Length`.
    ContentLength,
    /// `Transfer-Encoding: chunked`, in 64 KiB chunks, with no `Content-Length`.
    Chunked,
    /// Like `Chunked`, but the terminating chunk is never sent: the upload simply goes on, as far as
    /// the server can tell, which is what a body over the limit looks like while it is read.
    ChunkedUnterminated,
}

/// The size of the chunks of a chunked body. 1 MiB is a multiple of it, so a body one byte over
/// the limit ends with a one-byte chunk that the server reads whole.
const CHUNK: usize = 64 * 1024;

/// How long the client waits for `100 Continue` before it sends the body anyway (RFC 9110 §10.1.1).
const CONTINUE_TIMEOUT: Duration = Duration::from_secs(1);

/// Sends a JSON `POST path` with `body` framed as `framing`, plus `extra_headers`, and returns the
/// final response.
///
/// The request carries `Expect: 100-continue`, and the body is only sent once the server asks for
/// it. A server that rejects the request from its headers (a declared `Content-Length` over the
/// limit) therefore never has unread bytes when it closes the connection; otherwise its kernel
/// could reset the connection and discard the response before the client reads it.
pub async fn post_raw(
    port: u16,
    path: &str,
    extra_headers: &[(&str, &str)],
    body: Vec<u8>,
    framing: Framing,
) -> RawResponse {
    let stream = TcpStream::connect(("127.0.0.1", port)).await.expect("the server accepts connections");
    let (mut reader, mut writer) = stream.into_split();

    let framing_header = match framing {
        Framing::ContentLength => format!("Content-Length: {}", body.len()),
        Framing::Chunked | Framing::ChunkedUnterminated => "Transfer-Encoding: chunked".to_owned(),
    };
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         {framing_header}\r\nExpect: 100-continue\r\nConnection: close\r\n"
    );
    for (name, value) in extra_headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");

    // Dropped without a send when the final response arrives first: the body is then never sent.
    let (send_body, body_wanted) = oneshot::channel::<()>();
    let write = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        if let Ok(Err(_)) = tokio::time::timeout(CONTINUE_TIMEOUT, body_wanted).await {
            return Ok(());
        }
        match framing {
            Framing::ContentLength => writer.write_all(&body).await?,
            Framing::Chunked | Framing::ChunkedUnterminated => {
                for chunk in body.chunks(CHUNK) {
                    writer.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).await?;
                    writer.write_all(chunk).await?;
                    writer.write_all(b"\r\n").await?;
                }
                if matches!(framing, Framing::Chunked) {
                    writer.write_all(b"0\r\n\r\n").await?;
                }
            }
        }
        writer.flush().await?;
        // Keep the write half open until the response has been read (the task is aborted then):
        // dropping it sends FIN, which hyper takes for a client that went away, and for an
        // unterminated chunked body it would end the upload mid-chunk.
        std::future::pending::<()>().await;
        Ok::<(), std::io::Error>(())
    });

    let mut send_body = Some(send_body);
    let mut received = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    let read = async {
        loop {
            match reader.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
            if let Some(rest) = after_interim_response(&received) {
                received = rest;
                if let Some(send_body) = send_body.take() {
                    let _ = send_body.send(());
                }
            }
            if complete_response(&received) {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read).await.expect("the server answers the raw request");
    write.abort();
    parse_response(&received)
}

/// When `received` starts with a complete `1xx` interim response, the bytes after it.
fn after_interim_response(received: &[u8]) -> Option<Vec<u8>> {
    let (head, rest) = split_head(received)?;
    let status_line = String::from_utf8_lossy(head);
    let code = status_line.split_whitespace().nth(1)?;
    code.starts_with('1').then(|| rest.to_vec())
}

fn split_head(received: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = received.windows(4).position(|window| window == b"\r\n\r\n")?;
    Some((&received[..end], &received[end + 4..]))
}

fn complete_response(received: &[u8]) -> bool {
    let Some((head, body)) = split_head(received) else {
        return false;
    };
    let head = String::from_utf8_lossy(head).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse::<usize>().ok());
    length.is_some_and(|length| body.len() >= length)
}

fn parse_response(received: &[u8]) -> RawResponse {
    assert!(!received.is_empty(), "the server closed the connection without sending a response");
    let (head, body) =
        split_head(received).unwrap_or_else(|| panic!("incomplete response: {:?}", String::from_utf8_lossy(received)));
    let head = String::from_utf8_lossy(head);
    let mut lines = head.lines();
    let status_line = lines.next().expect("a status line");
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    RawResponse { status, headers, body: String::from_utf8_lossy(body).into_owned() }
}
