//! The channel subscription of one process: one Redis Pub/Sub connection on the deployment's
//! three channels, feeding every subscriber of this process.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use openclaw_core::event_feed::LiveEvent;
use tokio::sync::broadcast::WeakSender;

use crate::bus::Shared;
use crate::connection::REDIS_TIMEOUT;
use crate::message::BusMessage;

/// First wait after the subscription failed; doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Subscribes to `channels` and forwards their events to `sender`'s receivers until the bus
/// is dropped, resubscribing whenever the connection ends.
///
/// Each time the subscription is made, and each time it is lost, the receivers are told they
/// lagged: they read the log, which brings whatever was published while nobody listened. A
/// message from a new epoch does the same (the stream was recreated).
pub(crate) async fn listen(
    shared: Arc<Shared>,
    sender: WeakSender<LiveEvent>,
    channels: Vec<String>,
) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        if sender.upgrade().is_none() {
            return;
        }
        let subscribed = async {
            let mut pubsub = redis::Client::open(shared.url.as_str())?
                .get_async_pubsub()
                .await?;
            pubsub.subscribe(&channels).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        let pubsub = match tokio::time::timeout(REDIS_TIMEOUT * 2, subscribed).await {
            Ok(Ok(pubsub)) => pubsub,
            Ok(Err(e)) => {
                shared.live_down(&e.to_string());
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
            Err(_) => {
                shared.live_down("subscribing timed out");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        backoff = FIRST_BACKOFF;
        shared.live_up();
        if !tell(&sender, LiveEvent::Lagged) {
            return;
        }
        let mut messages = pubsub.into_on_message();
        while let Some(message) = messages.next().await {
            let Ok(text) = message.get_payload::<String>() else {
                continue;
            };
            let Some(message) = BusMessage::parse(&text) else {
                continue;
            };
            if shared.note_epoch(&message.epoch) && !tell(&sender, LiveEvent::Lagged) {
                return;
            }
            let lag = chrono::Utc::now() - message.event.at;
            shared
                .observer
                .delivered(lag.to_std().unwrap_or(Duration::ZERO));
            if !tell(&sender, LiveEvent::Event(message.event)) {
                return;
            }
        }
        shared.live_down("the subscription's connection closed");
        if !tell(&sender, LiveEvent::Lagged) {
            return;
        }
    }
}

/// Sends `item` to the process's subscribers; `false` once the bus is gone.
fn tell(sender: &WeakSender<LiveEvent>, item: LiveEvent) -> bool {
    match sender.upgrade() {
        Some(sender) => {
            // No receiver is fine: nobody listens right now.
            let _ = sender.send(item);
            true
        }
        None => false,
    }
}
