//! A reader of `GET /api/v1/events` (docs/live-updates.md#wire-format): splits the byte stream
//! into records as a browser's SSE parser would, and waits for them with deadlines.

use super::*;

/// One record of the stream.
#[derive(Debug, Clone, PartialEq)]
pub enum SseItem {
    Event(SseEvent),
    /// A comment line (`: keep-alive`).
    Comment(String),
    /// A `retry:` record.
    Retry(u64),
}

/// An event: `id`, `event` and its `data` parsed as JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    pub id: String,
    pub event: String,
    pub data: Value,
}

/// What waiting for the next record gave.
#[derive(Debug)]
pub enum Next {
    Item(SseItem),
    /// The server ended the stream cleanly.
    Ended,
    TimedOut,
}

/// An open stream.
pub struct SseReader {
    response: Response,
    buffer: Vec<u8>,
    ended: bool,
}

impl SseReader {
    /// Wraps a 200 `text/event-stream` response.
    pub fn new(response: Response) -> Self {
        assert_eq!(response.status(), StatusCode::OK, "the stream opens");
        let content_type = header(response.headers(), "content-type").unwrap_or_default();
        assert_eq!(content_type, "text/event-stream; charset=utf-8");
        Self { response, buffer: Vec::new(), ended: false }
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        self.response.headers()
    }

    fn take_record(&mut self) -> Option<SseItem> {
        let end = self.buffer.windows(2).position(|w| w == b"\n\n")?;
        let record: Vec<u8> = self.buffer.drain(..end + 2).collect();
        let text = String::from_utf8(record).expect("the stream is UTF-8");
        let (mut id, mut event, mut data, mut comment, mut retry) = (None, None, None, None, None);
        for line in text.lines().filter(|l| !l.is_empty()) {
            if let Some(rest) = line.strip_prefix(':') {
                comment = Some(rest.trim().to_owned());
                continue;
            }
            let (field, value) = line.split_once(": ").unwrap_or((line, ""));
            match field {
                "id" => id = Some(value.to_owned()),
                "event" => event = Some(value.to_owned()),
                "data" => {
                    assert!(data.is_none(), "data is one line: {text:?}");
                    data = Some(serde_json::from_str(value).expect("data is JSON"));
                }
                "retry" => retry = Some(value.parse().expect("retry is a number")),
                other => panic!("unexpected field {other:?} in {text:?}"),
            }
        }
        if let Some(r) = retry {
            return Some(SseItem::Retry(r));
        }
        if let (Some(id), Some(event), Some(data)) = (id, event, data) {
            return Some(SseItem::Event(SseEvent { id, event, data }));
        }
        match comment {
            Some(c) => Some(SseItem::Comment(c)),
            None => panic!("incomplete record {text:?}"),
        }
    }

    /// The next record, waiting at most `within`.
    pub async fn next(&mut self, within: Duration) -> Next {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(item) = self.take_record() {
                return Next::Item(item);
            }
            if self.ended {
                return Next::Ended;
            }
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Err(_) => return Next::TimedOut,
                Ok(Ok(Some(chunk))) => self.buffer.extend_from_slice(&chunk),
                Ok(Ok(None)) => self.ended = true,
                Ok(Err(e)) => panic!("the stream ended with an error: {e}"),
            }
        }
    }

    /// The next event (skipping comments and `retry`), failing the test on an end or a timeout.
    pub async fn event(&mut self, within: Duration) -> SseEvent {
        loop {
            match self.next(within).await {
                Next::Item(SseItem::Event(e)) => return e,
                Next::Item(_) => {}
                other => panic!("expected an event, got {other:?}"),
            }
        }
    }

    /// Waits for the stream to end cleanly, failing on any event (comments are fine).
    pub async fn assert_ends(&mut self, within: Duration) {
        loop {
            match self.next(within).await {
                Next::Ended => return,
                Next::Item(SseItem::Event(e)) => panic!("expected the stream to end, got {e:?}"),
                Next::Item(_) => {}
                Next::TimedOut => panic!("the stream did not end within {within:?}"),
            }
        }
    }
}

impl ApiClient {
    /// `GET /api/v1/events` with `token` and an optional `Last-Event-ID`.
    pub async fn events(&self, token: &str, last_event_id: Option<&str>) -> Response {
        let mut request = self.authed(Method::GET, "/api/v1/events", token);
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        send(request).await
    }

    /// Opens a stream and reads its preamble.
    pub async fn open_events(&self, token: &str, last_event_id: Option<&str>) -> SseReader {
        let mut reader = SseReader::new(self.events(token, last_event_id).await);
        match reader.next(Duration::from_secs(10)).await {
            Next::Item(SseItem::Retry(2000)) => {}
            other => panic!("the stream starts with `retry: 2000`, got {other:?}"),
        }
        reader
    }
}
