//! Live events: `GET /v1/events` (Server-Sent Events) and `GET /v1/events/ws` (WebSocket).
//!
//! Both resume after a sequence number — the SSE `Last-Event-ID` header, or `?after=` — and
//! read from the bus, which replays the store's log after that sequence before it goes live,
//! so a client that reconnects with the last sequence it saw misses nothing and sees nothing
//! twice. Without either, a stream starts with what happens from now on.
//!
//! A key bound to a customer sees only the events of that customer's instances.

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures_util::stream::{self, BoxStream, StreamExt};
use openclaw_core::domain::{Event, InstanceId, Topic};

use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::extract::QueryOf;
use crate::metrics::GaugeGuard;
use crate::model::EventStreamMessage;
use crate::model::{ErrorBody, EventKindView, EventQuery, EventView};
use crate::routes::instances::load_visible;
use crate::state::AppState;

/// What a stream was asked for.
#[derive(Debug, Clone)]
struct Selection {
    topic: Option<Topic>,
    instance: Option<InstanceId>,
    after: Option<u64>,
}

/// The largest sequence a client may resume after (18 digits: far beyond any event log, and
/// within every store's signed 64-bit sequence).
pub const MAX_SEQUENCE: u64 = 999_999_999_999_999_999;

fn select(query: EventQuery, headers: &HeaderMap) -> AppResult<Selection> {
    let topic = query.topic.map(|t| t.parse::<Topic>()).transpose()?;
    let instance = query
        .instance_id
        .map(|i| {
            i.parse::<InstanceId>()
                .map_err(|_| AppError::invalid("instance_id", "is not an instance id"))
        })
        .transpose()?;
    let from_header = headers
        .get("last-event-id")
        .map(|v| {
            v.to_str()
                .ok()
                .map(str::trim)
                .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|s| s.parse::<u64>().ok())
                .filter(|n| *n <= MAX_SEQUENCE)
                .ok_or_else(|| AppError::invalid("Last-Event-ID", "must be an event sequence"))
        })
        .transpose()?;
    if query.after.is_some_and(|n| n > MAX_SEQUENCE) {
        return Err(AppError::invalid(
            "after",
            format!("must be an event sequence, at most {MAX_SEQUENCE}"),
        ));
    }
    Ok(Selection {
        topic,
        instance,
        after: from_header.or(query.after),
    })
}

/// Decides, and remembers, which instances' events a customer-bound key may see.
struct Visibility {
    state: AppState,
    caller: Caller,
    known: HashMap<InstanceId, bool>,
}

impl Visibility {
    async fn allows(&mut self, event: &Event) -> bool {
        if self.caller.customer.is_none() {
            return true;
        }
        let Some(id) = event.instance_id else {
            // Deployment-wide alerts are for operators, not customers.
            return false;
        };
        if let Some(known) = self.known.get(&id) {
            return *known;
        }
        let visible = match self.state.store.get_instance(id).await {
            Ok(Some(instance)) => self.caller.sees(&instance),
            _ => false,
        };
        // Bounded: a long-lived stream of a busy deployment must not grow without end.
        if self.known.len() > 10_000 {
            self.known.clear();
        }
        self.known.insert(id, visible);
        visible
    }
}

/// The events `caller` asked for and may see, as views, ending at shutdown.
async fn event_views(
    state: &AppState,
    caller: &Caller,
    selection: Selection,
) -> AppResult<BoxStream<'static, EventView>> {
    if let Some(id) = selection.instance {
        load_visible(state, caller, id).await?;
    }
    // Events up to here are history: only later ones count towards delivery latency.
    let backlog_until = state.store.last_event_sequence().await?;
    let source = state
        .provisioner
        .subscribe(selection.topic, selection.after)
        .await?;
    let visibility = Visibility {
        state: state.clone(),
        caller: caller.clone(),
        known: HashMap::new(),
    };
    let metrics = state.metrics.clone();
    let instance = selection.instance;
    let views = stream::unfold((source, visibility), move |(mut source, mut visibility)| {
        let metrics = metrics.clone();
        async move {
            loop {
                match source.next().await? {
                    Ok(event) => {
                        let wanted = instance.is_none_or(|i| event.instance_id == Some(i));
                        if wanted && visibility.allows(&event).await {
                            if event.sequence > backlog_until {
                                let age = chrono::Utc::now() - event.at;
                                metrics
                                    .event_latency
                                    .observe(age.to_std().unwrap_or(Duration::ZERO));
                            }
                            let view = crate::customer_view::event(
                                &visibility.caller,
                                EventView::from(&event),
                            );
                            return Some((view, (source, visibility)));
                        }
                    }
                    // The bus goes on after a transient failure; the client need not know.
                    Err(error) => {
                        metrics.event_stream_interruptions.incr();
                        tracing::warn!(%error, "event stream hiccup");
                    }
                }
            }
        }
    });
    let shutdown = state.clone();
    Ok(views
        .take_until(Box::pin(async move { shutdown.shutting_down().await }))
        .boxed())
}

fn kind_name(view: &EventView) -> &'static str {
    match view.kind {
        EventKindView::StatusChanged { .. } => "status_changed",
        EventKindView::Alert { .. } => "alert",
        EventKindView::Audit { .. } => "audit",
    }
}

/// Events as Server-Sent Events.
///
/// Each message has `id: <sequence>`, `event: status_changed|alert|audit` and `data:` the
/// event as JSON. Reconnect with `Last-Event-ID` to resume.
#[utoipa::path(
    get, path = "/v1/events", tag = "events",
    params(EventQuery, ("Last-Event-ID" = Option<String>, Header, pattern = "^[0-9]{1,18}$", description = "Resume after this sequence")),
    responses(
        (status = 200, description = "A text/event-stream: one message per event", content_type = "text/event-stream", body = EventStreamMessage),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("api_key" = ["read"]))
)]
pub async fn sse(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    QueryOf(query): QueryOf<EventQuery>,
) -> AppResult<Response> {
    let selection = select(query, &headers)?;
    let slot = state.streams.acquire(&caller.key_id)?;
    let views = event_views(&state, &caller, selection).await?;
    let guard = state.metrics.sse_connections.track();
    let events = views.map(move |view| {
        let _alive: &GaugeGuard = &guard;
        let _slot = &slot;
        let event = SseEvent::default()
            .id(view.sequence.to_string())
            .event(kind_name(&view))
            .json_data(&view)
            .unwrap_or_else(|_| SseEvent::default().comment("unserializable event"));
        Ok::<_, Infallible>(event)
    });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(state.settings.keep_alive))
        .into_response())
}

/// Events over a WebSocket: one JSON text message per event, the same as the SSE `data`.
/// Resume with `?after=<sequence>`. Messages from the client are ignored.
#[utoipa::path(
    get, path = "/v1/events/ws", tag = "events",
    params(
        EventQuery,
        ("Connection" = String, Header, pattern = "^[Uu]pgrade$", description = "The WebSocket handshake (RFC 6455)"),
        ("Upgrade" = String, Header, pattern = "^websocket$", description = "The WebSocket handshake"),
        ("Sec-WebSocket-Version" = String, Header, pattern = "^13$", description = "The WebSocket handshake"),
        ("Sec-WebSocket-Key" = String, Header, pattern = "^[A-Za-z0-9+/]{21}[AQgw]==$", description = "16 random bytes in base64"),
    ),
    responses(
        (status = 101, description = "Switching to a WebSocket of events (JSON text messages)"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("api_key" = ["read"]))
)]
pub async fn websocket(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    QueryOf(query): QueryOf<EventQuery>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> AppResult<Response> {
    let upgrade = upgrade
        .map_err(|r| AppError::invalid("upgrade", format!("not a WebSocket handshake: {r}")))?;
    let selection = select(query, &headers)?;
    let slot = state.streams.acquire(&caller.key_id)?;
    let views = event_views(&state, &caller, selection).await?;
    let gauge = state.metrics.websocket_connections.clone();
    // Clients only ever send pings and a close: nothing they send needs more than this.
    let upgrade = upgrade
        .max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE);
    Ok(upgrade.on_upgrade(move |socket| async move {
        let _alive = gauge.track();
        let _slot = slot;
        pump(socket, views).await;
    }))
}

/// The largest message a client may send on the events WebSocket (it sends only pings and a
/// close); anything larger ends the connection.
pub const MAX_CLIENT_MESSAGE: usize = 4096;

/// Sends events until the client goes, the stream ends (shutdown), or a send fails.
async fn pump(mut socket: WebSocket, mut views: BoxStream<'static, EventView>) {
    let mut ping = tokio::time::interval(Duration::from_secs(30));
    ping.tick().await;
    loop {
        tokio::select! {
            view = views.next() => {
                let Some(view) = view else {
                    let _ = socket.send(Message::Close(None)).await;
                    return;
                };
                let Ok(text) = serde_json::to_string(&view) else { continue };
                if socket.send(Message::Text(text.into())).await.is_err() {
                    return;
                }
            }
            incoming = socket.recv() => {
                match incoming {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                    Some(Ok(_)) => {}
                }
            }
            _ = ping.tick() => {
                if socket.send(Message::Ping(Vec::new().into())).await.is_err() {
                    return;
                }
            }
        }
    }
}
