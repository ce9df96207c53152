//! An event cursor: events after a sequence, in order, each once — from the embedded
//! provisioner's bus, or from a server's Server-Sent Events stream (reconnecting after the
//! last sequence seen when the connection drops, so nothing is missed). With `follow` off it
//! ends at the end of the log as it was when the cursor was made.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use openclaw_core::ports::EventStream;
use openclaw_http::model::EventView;

use crate::embedded::Embedded;
use crate::errors::{Failure, Outcome};
use crate::remote::Remote;

/// How long a remote cursor without a known end waits for one more event before it ends.
const IDLE_END: Duration = Duration::from_secs(1);
/// The longest pause between two reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

enum Source {
    Embedded(EventStream),
    Remote {
        remote: Arc<Remote>,
        response: Option<reqwest::Response>,
        buffer: Vec<u8>,
    },
}

/// Events after a sequence.
pub(crate) struct Cursor {
    source: Source,
    /// The last sequence handed out.
    last: u64,
    /// Where a cursor without `follow` ends (`None`: at the first pause, for a remote key
    /// that may not read the overview).
    end: Option<u64>,
    follow: bool,
    done: bool,
}

impl Cursor {
    /// Events of the embedded provisioner after `after`.
    pub(crate) async fn embedded(embedded: &Embedded, after: u64, follow: bool) -> Outcome<Cursor> {
        let provisioner = embedded.provisioner()?;
        let end = if follow {
            None
        } else {
            Some(provisioner.store().last_event_sequence().await?)
        };
        let stream = provisioner.subscribe(None, Some(after)).await?;
        Ok(Cursor::new(Source::Embedded(stream), after, end, follow))
    }

    /// Events of the server behind `remote` after `after`.
    pub(crate) async fn remote(remote: Arc<Remote>, after: u64, follow: bool) -> Outcome<Cursor> {
        let end = if follow {
            None
        } else {
            match remote.last_event_sequence().await {
                Ok(end) => Some(end),
                // A key bound to a customer may not read the overview: end at a pause.
                Err(Failure::Api { status: 403, .. }) => None,
                Err(other) => return Err(other),
            }
        };
        let response = Some(remote.open_events(after).await?);
        let source = Source::Remote {
            remote,
            response,
            buffer: Vec::new(),
        };
        Ok(Cursor::new(source, after, end, follow))
    }

    fn new(source: Source, after: u64, end: Option<u64>, follow: bool) -> Cursor {
        let done = end.is_some_and(|end| after >= end);
        Cursor {
            source,
            last: after,
            end,
            follow,
            done,
        }
    }

    /// The next event; `None` when a cursor without `follow` has reached its end.
    pub(crate) async fn next(&mut self) -> Outcome<Option<EventView>> {
        if self.done {
            return Ok(None);
        }
        loop {
            let event = match &mut self.source {
                Source::Embedded(stream) => match stream.next().await {
                    Some(event) => EventView::from(&event?),
                    None => {
                        self.done = true;
                        return Ok(None);
                    }
                },
                Source::Remote {
                    remote,
                    response,
                    buffer,
                } => {
                    let idle = (!self.follow && self.end.is_none()).then_some(IDLE_END);
                    match next_remote(remote, response, buffer, self.last, idle).await? {
                        Some(event) => event,
                        None => {
                            self.done = true;
                            return Ok(None);
                        }
                    }
                }
            };
            if event.sequence <= self.last {
                continue; // replayed across a reconnection: handed out already
            }
            self.last = event.sequence;
            if self.end.is_some_and(|end| event.sequence >= end) {
                self.done = true;
            }
            return Ok(Some(event));
        }
    }
}

/// The next event of a remote stream: reads (and reconnects after `last` when the stream
/// ends or fails), parsing Server-Sent Events. `None` after `idle` without an event.
async fn next_remote(
    remote: &Arc<Remote>,
    response: &mut Option<reqwest::Response>,
    buffer: &mut Vec<u8>,
    last: u64,
    idle: Option<Duration>,
) -> Outcome<Option<EventView>> {
    let mut backoff = Duration::from_millis(250);
    loop {
        if let Some(event) = take_event(buffer)? {
            return Ok(Some(event));
        }
        let Some(open) = response.as_mut() else {
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
            buffer.clear();
            match remote.open_events(last).await {
                Ok(fresh) => *response = Some(fresh),
                Err(Failure::Transport(_)) => {}
                Err(other) => return Err(other),
            }
            continue;
        };
        let chunk = match idle {
            Some(idle) => match tokio::time::timeout(idle, open.chunk()).await {
                Ok(chunk) => chunk,
                Err(_) => return Ok(None),
            },
            None => open.chunk().await,
        };
        match chunk {
            Ok(Some(bytes)) => buffer.extend_from_slice(&bytes),
            // The stream ended or broke: open it again after the last event handed out.
            Ok(None) | Err(_) => *response = None,
        }
    }
}

/// Takes the first complete event off `buffer` (skipping comments and keep-alives).
fn take_event(buffer: &mut Vec<u8>) -> Outcome<Option<EventView>> {
    loop {
        let Some(end) = buffer.windows(2).position(|w| w == b"\n\n") else {
            return Ok(None);
        };
        let block: Vec<u8> = buffer.drain(..end + 2).collect();
        let text = String::from_utf8_lossy(&block);
        let data: Vec<&str> = text
            .lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .map(|d| d.strip_prefix(' ').unwrap_or(d))
            .collect();
        if data.is_empty() {
            continue;
        }
        let event: EventView = serde_json::from_str(&data.join("\n")).map_err(|e| {
            Failure::Transport(format!("an event is not what the API documents: {e}"))
        })?;
        return Ok(Some(event));
    }
}
