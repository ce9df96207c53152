//! The lifecycle of an instance and the one table of transitions between its states.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Where an instance is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstanceStatus {
    /// Accepted; its provisioning job is queued.
    Pending,
    /// A worker is creating the server, the DNS record, and waiting for health.
    Provisioning,
    /// Running and healthy.
    Active,
    /// Being powered off.
    Suspending,
    /// Powered off; server and record kept.
    Suspended,
    /// Being powered on and waiting for health.
    Unsuspending,
    /// Its DNS records and server are being deleted.
    Terminating,
    /// Gone at every provider. Terminal.
    Terminated,
    /// A failed provisioning is being undone.
    RollingBack,
    /// Undone: nothing is left at any provider.
    RolledBack,
    /// Stopped for manual intervention (a soft rollback, or a step that kept failing).
    Failed,
    /// Its server is being moved to another plan's server type (powered off, type changed
    /// with the disk kept, powered on again if it was active). It returns to the status it
    /// came from: `active` or `suspended`.
    Resizing,
}

/// Every status, in declaration order.
pub const ALL_STATUSES: [InstanceStatus; 12] = [
    InstanceStatus::Pending,
    InstanceStatus::Provisioning,
    InstanceStatus::Active,
    InstanceStatus::Suspending,
    InstanceStatus::Suspended,
    InstanceStatus::Unsuspending,
    InstanceStatus::Terminating,
    InstanceStatus::Terminated,
    InstanceStatus::RollingBack,
    InstanceStatus::RolledBack,
    InstanceStatus::Failed,
    InstanceStatus::Resizing,
];

use InstanceStatus::*;

/// The transition table: `(from, to)` pairs the engine may perform. Nothing else is allowed.
///
/// Reading guide: provisioning goes `pending → provisioning → active`; billing moves
/// `active ⇄ suspended` through `suspending`/`unsuspending`; every live state may be
/// terminated; a failed provisioning rolls back (or, soft, goes to `failed`); `failed` and
/// `rolled_back` may be retried (back to `pending`, or to the operation that failed); a plan
/// change goes `active|suspended → resizing` and back to where it came from.
pub const TRANSITIONS: &[(InstanceStatus, InstanceStatus)] = &[
    (Pending, Provisioning),
    (Pending, Terminating),
    (Pending, RollingBack),
    (Pending, Failed),
    (Provisioning, Active),
    (Provisioning, RollingBack),
    (Provisioning, Failed),
    (Provisioning, Terminating),
    (Active, Suspending),
    (Active, Terminating),
    (Active, RollingBack),
    (Suspending, Suspended),
    (Suspending, Failed),
    (Suspending, Terminating),
    (Suspended, Unsuspending),
    (Suspended, Terminating),
    (Unsuspending, Active),
    (Unsuspending, Failed),
    (Unsuspending, Terminating),
    (Terminating, Terminated),
    (Terminating, Failed),
    (RollingBack, RolledBack),
    (RollingBack, Failed),
    (RollingBack, Terminating),
    (RolledBack, Pending),
    (RolledBack, Terminating),
    (Failed, Pending),
    (Failed, Suspending),
    (Failed, Unsuspending),
    (Failed, Terminating),
    (Failed, RollingBack),
    (Failed, Resizing),
    (Active, Resizing),
    (Suspended, Resizing),
    (Resizing, Active),
    (Resizing, Suspended),
    (Resizing, Failed),
    (Resizing, Terminating),
];

impl InstanceStatus {
    /// Whether the table allows `self → to`.
    pub fn can_transition_to(self, to: InstanceStatus) -> bool {
        TRANSITIONS.contains(&(self, to))
    }

    /// `Ok(())` when `self → to` is allowed, else [`Error::InvalidTransition`].
    pub fn check_transition(self, to: InstanceStatus) -> Result<()> {
        if self.can_transition_to(to) {
            Ok(())
        } else {
            Err(Error::InvalidTransition { from: self, to })
        }
    }

    /// No transition leaves this status.
    pub fn is_terminal(self) -> bool {
        !TRANSITIONS.iter().any(|(from, _)| *from == self)
    }

    /// Whether an instance in this status may own resources at a provider. Resources of
    /// instances that are not live (terminated, rolled back, or gone) are orphans.
    pub fn is_live(self) -> bool {
        !matches!(self, Terminated | RolledBack)
    }

    /// Whether a worker is (or should be) acting on the instance right now.
    pub fn is_in_progress(self) -> bool {
        matches!(
            self,
            Pending
                | Provisioning
                | Suspending
                | Unsuspending
                | Terminating
                | RollingBack
                | Resizing
        )
    }

    /// Whether this is a status where the engine has stopped working on the instance until a
    /// person or billing acts: active, suspended, terminated, rolled back or failed.
    pub fn is_settled(self) -> bool {
        !self.is_in_progress()
    }

    /// The snake_case name used in APIs and stores.
    pub fn as_str(self) -> &'static str {
        match self {
            Pending => "pending",
            Provisioning => "provisioning",
            Active => "active",
            Suspending => "suspending",
            Suspended => "suspended",
            Unsuspending => "unsuspending",
            Terminating => "terminating",
            Terminated => "terminated",
            RollingBack => "rolling_back",
            RolledBack => "rolled_back",
            Failed => "failed",
            Resizing => "resizing",
        }
    }
}

impl fmt::Display for InstanceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for InstanceStatus {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        ALL_STATUSES
            .iter()
            .copied()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| Error::invalid("status", format!("unknown status {s:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminated_is_the_only_terminal_status() {
        let terminal: Vec<_> = ALL_STATUSES.iter().filter(|s| s.is_terminal()).collect();
        assert_eq!(terminal, vec![&Terminated]);
    }

    #[test]
    fn every_live_status_can_be_terminated_eventually() {
        for status in ALL_STATUSES {
            if status == Terminated {
                continue;
            }
            // Terminating is one step away from every non-terminal status, or is it.
            assert!(
                status == Terminating || status.can_transition_to(Terminating),
                "{status} cannot be terminated"
            );
        }
    }

    #[test]
    fn no_status_transitions_to_itself() {
        assert!(TRANSITIONS.iter().all(|(a, b)| a != b));
    }

    #[test]
    fn names_round_trip() {
        for status in ALL_STATUSES {
            assert_eq!(status.as_str().parse::<InstanceStatus>().unwrap(), status);
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
        }
        assert!("paused".parse::<InstanceStatus>().is_err());
    }

    #[test]
    fn illegal_transitions_are_errors() {
        let err = Terminated.check_transition(Active).unwrap_err();
        assert!(matches!(
            err,
            Error::InvalidTransition {
                from: Terminated,
                to: Active
            }
        ));
        assert!(Active.check_transition(Suspending).is_ok());
        assert!(Suspended.check_transition(Active).is_err());
    }

    #[test]
    fn a_plan_change_returns_to_where_it_came_from_or_fails() {
        let out: Vec<_> = TRANSITIONS
            .iter()
            .filter(|(from, _)| *from == Resizing)
            .map(|(_, to)| *to)
            .collect();
        assert_eq!(out, vec![Active, Suspended, Failed, Terminating]);
        assert!(Resizing.is_in_progress());
        assert!(!Pending.can_transition_to(Resizing));
        assert!(!Provisioning.can_transition_to(Resizing));
    }
}
