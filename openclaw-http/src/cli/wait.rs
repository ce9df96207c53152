//! `--wait`: follow an instance through its states until the operation settles.
//!
//! The stream is opened after the instance's event log is read, resuming after its last
//! event, so no change between the two is missed. On a terminal the progress is one line
//! rewritten in place; otherwise (a pipe, a log) each change is a line of its own.

use std::io::{IsTerminal, Write};
use std::time::Instant;

use reqwest::Method;

use super::client::{ApiClient, ClientError};
use super::sse::EventStream;
use crate::model::{EventKindView, EventList, InstanceView, Status};

/// What `--wait` waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    /// Provisioning (create, retry, unsuspend): `active`.
    Active,
    /// `suspended`.
    Suspended,
    /// `terminated`.
    Terminated,
    /// `rolled_back` (or `failed` for a soft rollback, which is its goal).
    RolledBack,
}

impl Goal {
    fn reached(self, status: Status) -> bool {
        matches!(
            (self, status),
            (Goal::Active, Status::Active)
                | (Goal::Suspended, Status::Suspended)
                | (Goal::Terminated, Status::Terminated)
                | (Goal::RolledBack, Status::RolledBack)
        )
    }

    /// States that end the wait without the goal.
    fn gave_up(self, status: Status) -> bool {
        match self {
            Goal::RolledBack => matches!(status, Status::Failed | Status::Terminated),
            _ => {
                matches!(
                    status,
                    Status::Failed | Status::RolledBack | Status::Terminated
                ) && !self.reached(status)
            }
        }
    }
}

/// Waits until `instance` reaches `goal` (Ok) or a state that means it will not (Err with
/// that status). Progress goes to `out`.
pub async fn follow(
    client: &ApiClient,
    instance: &InstanceView,
    goal: Goal,
    out: &mut dyn Write,
) -> Result<Status, WaitError> {
    let tty = std::io::stderr().is_terminal();
    let started = Instant::now();
    let path = format!("/v1/instances/{}/events", instance.id);
    let log: EventList = client
        .call(Method::GET, &path, None::<&()>, None)
        .await
        .map_err(WaitError::Client)?;
    let mut status = log
        .items
        .iter()
        .rev()
        .find_map(|e| match e.kind {
            EventKindView::StatusChanged { to, .. } => Some(to),
            _ => None,
        })
        .unwrap_or(instance.status);
    let last = log.items.last().map(|e| e.sequence).unwrap_or(0);
    let mut progress = Progress {
        tty,
        started,
        fqdn: instance.fqdn.clone(),
        out,
    };
    progress.show(status, "");
    if goal.reached(status) {
        progress.done();
        return Ok(status);
    }
    if goal.gave_up(status) {
        progress.done();
        return Err(WaitError::Ended(status));
    }
    let query = format!("instance_id={}", instance.id);
    let mut stream =
        EventStream::open(&client.http, &client.base, client.key(), &query, Some(last))
            .await
            .map_err(WaitError::Stream)?;
    while let Some(event) = stream.next().await {
        let event = event.map_err(WaitError::Stream)?;
        if let EventKindView::StatusChanged { to, .. } = event.kind {
            status = to;
            progress.show(status, &event.reason);
            if goal.reached(status) {
                progress.done();
                return Ok(status);
            }
            if goal.gave_up(status) {
                progress.done();
                return Err(WaitError::Ended(status));
            }
        }
    }
    progress.done();
    Err(WaitError::Stream(
        "the server closed the event stream".to_string(),
    ))
}

/// Why a wait ended without its goal.
#[derive(Debug)]
pub enum WaitError {
    /// The instance settled elsewhere.
    Ended(Status),
    /// The API failed.
    Client(ClientError),
    /// The event stream failed.
    Stream(String),
}

impl std::fmt::Display for WaitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WaitError::Ended(status) => write!(f, "the instance ended {}", status_name(*status)),
            WaitError::Client(e) => e.fmt(f),
            WaitError::Stream(e) => write!(f, "event stream: {e}"),
        }
    }
}

/// The status as the API spells it.
pub fn status_name(status: Status) -> String {
    serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

struct Progress<'a> {
    tty: bool,
    started: Instant,
    fqdn: String,
    out: &'a mut dyn Write,
}

impl Progress<'_> {
    fn show(&mut self, status: Status, reason: &str) {
        let elapsed = self.started.elapsed().as_secs_f64();
        let name = status_name(status);
        if self.tty {
            let _ = write!(
                self.out,
                "\r\x1b[2K[{elapsed:6.1}s] {} {name:<13} {reason}",
                self.fqdn
            );
        } else {
            let _ = writeln!(self.out, "{elapsed:.1}s {} {name} {reason}", self.fqdn);
        }
        let _ = self.out.flush();
    }

    fn done(&mut self) {
        if self.tty {
            let _ = writeln!(self.out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goals_settle_where_they_should() {
        assert!(Goal::Active.reached(Status::Active));
        assert!(Goal::Active.gave_up(Status::RolledBack));
        assert!(!Goal::Active.gave_up(Status::Provisioning));
        assert!(Goal::RolledBack.reached(Status::RolledBack));
        assert!(!Goal::RolledBack.gave_up(Status::RolledBack));
        assert!(Goal::Terminated.reached(Status::Terminated));
        assert_eq!(status_name(Status::RollingBack), "rolling_back");
    }
}
