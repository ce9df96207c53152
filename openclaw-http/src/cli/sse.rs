//! A small Server-Sent Events reader: enough of the format to follow `GET /v1/events`
//! (`id:`, `event:`, `data:` lines, comments, blank-line dispatch), on a reqwest byte stream.

use futures_util::StreamExt;

use crate::model::EventView;

/// One dispatched message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseMessage {
    /// The `id:` field.
    pub id: Option<String>,
    /// The `event:` field.
    pub event: Option<String>,
    /// The `data:` lines, joined with newlines.
    pub data: String,
}

/// Incremental parser: feed it bytes, take out complete messages.
#[derive(Debug, Default)]
pub struct SseParser {
    buffer: Vec<u8>,
    current: SseMessage,
    has_data: bool,
}

impl SseParser {
    /// Adds bytes; returns the messages they completed.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SseMessage> {
        self.buffer.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.buffer.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if self.has_data {
                    out.push(std::mem::take(&mut self.current));
                    self.has_data = false;
                } else {
                    self.current = SseMessage::default();
                }
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = match line.split_once(':') {
                Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
                None => (line, ""),
            };
            match field {
                "id" => self.current.id = Some(value.to_string()),
                "event" => self.current.event = Some(value.to_string()),
                "data" => {
                    if self.has_data {
                        self.current.data.push('\n');
                    }
                    self.current.data.push_str(value);
                    self.has_data = true;
                }
                _ => {}
            }
        }
        out
    }
}

/// A live `GET /v1/events` stream of [`EventView`]s.
pub struct EventStream {
    body: futures_util::stream::BoxStream<'static, reqwest::Result<axum::body::Bytes>>,
    parser: SseParser,
    pending: std::collections::VecDeque<SseMessage>,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream").finish_non_exhaustive()
    }
}

impl EventStream {
    /// Opens `<base>/v1/events?<query>` with `key`, resuming after `last_event_id`.
    pub async fn open(
        client: &reqwest::Client,
        base: &str,
        key: &str,
        query: &str,
        last_event_id: Option<u64>,
    ) -> Result<Self, String> {
        let url = if query.is_empty() {
            format!("{}/v1/events", base.trim_end_matches('/'))
        } else {
            format!("{}/v1/events?{query}", base.trim_end_matches('/'))
        };
        let mut request = client
            .get(url)
            .bearer_auth(key)
            .header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id.to_string());
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            return Err(format!("GET /v1/events answered {status}: {text}"));
        }
        Ok(EventStream {
            body: response.bytes_stream().boxed(),
            parser: SseParser::default(),
            pending: std::collections::VecDeque::new(),
        })
    }

    /// The next event; `None` when the server closed the stream.
    pub async fn next(&mut self) -> Option<Result<EventView, String>> {
        loop {
            if let Some(message) = self.pending.pop_front() {
                return Some(
                    serde_json::from_str(&message.data)
                        .map_err(|e| format!("an event that is not an event: {e}")),
                );
            }
            match self.body.next().await? {
                Ok(bytes) => self.pending.extend(self.parser.feed(&bytes)),
                Err(e) => return Some(Err(e.to_string())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_split_on_blank_lines_across_chunks() {
        let mut parser = SseParser::default();
        assert!(parser
            .feed(b": keep-alive\n\nid: 3\nevent: stat")
            .is_empty());
        let out = parser.feed(b"us_changed\ndata: {\"a\":\ndata: 1}\n\n");
        assert_eq!(
            out,
            vec![SseMessage {
                id: Some("3".into()),
                event: Some("status_changed".into()),
                data: "{\"a\":\n1}".into(),
            }]
        );
        assert!(parser.feed(b"\r\n").is_empty());
    }
}
