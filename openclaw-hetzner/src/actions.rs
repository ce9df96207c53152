//! Waiting for actions: one watcher polls every pending action of every caller in one
//! `GET /actions?id=…&id=…` per tick.
//!
//! # Why one watcher
//! Each poll is a request against the project's 3600-per-hour budget. Ten workers powering
//! off ten servers would spend ten requests per tick if each polled its own action; through
//! the watcher they spend one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use openclaw_core::{Error, ErrorClass, Result};
use reqwest::Method;
use tokio::sync::oneshot;

use crate::client::Client;
use crate::error::{Failure, RequestKind, PROVIDER};
use crate::model::{ActionListResponse, ActionModel};

/// Most action ids asked for in one request: Hetzner's default page size, so a response is
/// never cut short by pagination.
pub const MAX_IDS_PER_POLL: usize = 25;

/// Consecutive failed polls (retryable ones) after which the waiters are told.
const MAX_FAILED_POLLS: u32 = 5;

type Waiter = oneshot::Sender<Result<ActionModel>>;

#[derive(Default)]
struct Pending {
    waiters: HashMap<u64, Vec<Waiter>>,
    /// Whether a polling task is alive; at most one is.
    polling: bool,
}

/// Batches the waits of all callers of one adapter.
#[derive(Clone)]
pub(crate) struct ActionWatcher {
    client: Arc<Client>,
    interval: Duration,
    pending: Arc<Mutex<Pending>>,
}

impl ActionWatcher {
    pub(crate) fn new(client: Arc<Client>, interval: Duration) -> Self {
        ActionWatcher {
            client,
            interval,
            pending: Arc::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        // Updates are single map operations; a poisoned lock still holds a consistent map.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until action `id` has finished and returns it (its `status` is `success` or
    /// `error`). Dropping the future withdraws the wait; the next poll no longer asks for it.
    pub(crate) async fn wait(&self, id: u64) -> Result<ActionModel> {
        let (sender, receiver) = oneshot::channel();
        let start = {
            let mut pending = self.lock();
            pending.waiters.entry(id).or_default().push(sender);
            !std::mem::replace(&mut pending.polling, true)
        };
        if start {
            tokio::spawn(self.clone().poll_until_idle());
        }
        receiver
            .await
            .map_err(|_| Error::internal("the action watcher stopped"))?
    }

    /// The ids still awaited by someone, dropping waits whose caller has gone. Marks the
    /// watcher idle (and returns nothing) when no one waits.
    fn awaited(&self) -> Vec<u64> {
        let mut pending = self.lock();
        pending.waiters.retain(|_, waiters| {
            waiters.retain(|w| !w.is_closed());
            !waiters.is_empty()
        });
        if pending.waiters.is_empty() {
            pending.polling = false;
        }
        let mut ids: Vec<u64> = pending.waiters.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    fn settle(&self, id: u64, outcome: &Result<ActionModel>) {
        let waiters = self.lock().waiters.remove(&id).unwrap_or_default();
        for waiter in waiters {
            // A waiter that went away in the meantime does not need the answer.
            let _ = waiter.send(outcome.clone());
        }
    }

    async fn poll_until_idle(self) {
        let mut failed_polls = 0u32;
        loop {
            tokio::time::sleep(self.interval).await;
            let ids = self.awaited();
            if ids.is_empty() {
                return;
            }
            for chunk in ids.chunks(MAX_IDS_PER_POLL) {
                match self.poll(chunk).await {
                    Ok(actions) => {
                        failed_polls = 0;
                        self.deliver(chunk, actions);
                    }
                    Err(error) => {
                        failed_polls += 1;
                        let give_up = matches!(error.class(), ErrorClass::Permanent)
                            || failed_polls >= MAX_FAILED_POLLS;
                        tracing::warn!(error = %error, failed_polls, give_up, "polling actions failed");
                        if give_up {
                            // Those waiters have their answer; later ones get a fresh count.
                            failed_polls = 0;
                            for id in chunk {
                                self.settle(*id, &Err(error.clone()));
                            }
                        }
                    }
                }
            }
        }
    }

    async fn poll(&self, ids: &[u64]) -> Result<Vec<ActionModel>> {
        let query: Vec<(&str, String)> = ids.iter().map(|id| ("id", id.to_string())).collect();
        self.client
            .request::<ActionListResponse>(Method::GET, "/actions", "GET /actions", &query, None)
            .await
            .map(|reply| reply.value.actions)
            .map_err(|failure: Failure| failure.into_error(RequestKind::Idempotent))
    }

    fn deliver(&self, asked: &[u64], actions: Vec<ActionModel>) {
        let mut seen = Vec::with_capacity(actions.len());
        for action in actions {
            seen.push(action.id);
            if action.is_finished() {
                let id = action.id;
                self.settle(id, &Ok(action));
            }
        }
        for id in asked.iter().filter(|id| !seen.contains(id)) {
            // Hetzner leaves out ids it does not know; waiting longer would never end.
            self.settle(
                *id,
                &Err(Error::Provider {
                    provider: PROVIDER.to_string(),
                    code: "not_found".to_string(),
                    status: Some(200),
                    message: format!("GET /actions: action {id} is not in the response"),
                    correlation_id: None,
                    class: ErrorClass::Permanent,
                }),
            );
        }
    }
}
