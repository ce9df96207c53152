//! Errors both stores report the same way, whatever their database calls them: data read
//! back that makes no domain value, and the unique rules of the schema.

use openclaw_core::Error;

/// An error about data read back that does not make a domain value (a row edited by hand,
/// or written by a newer version). Not retryable: reading it again gives the same row.
pub fn corrupt(what: impl std::fmt::Display) -> Error {
    Error::Store {
        message: format!("stored data is invalid: {what}"),
        retryable: false,
    }
}

/// A unique rule of the schema, whichever way the database names it (PostgreSQL names the
/// index, SQLite the columns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clash {
    /// `instances.id`.
    InstanceId,
    /// One live instance per `external_ref` (`instances_live_external_ref`).
    LiveExternalRef,
    /// One live instance per `fqdn` (`instances_live_fqdn`).
    LiveFqdn,
    /// `jobs.id`.
    JobId,
    /// One running job per instance (`jobs_one_running_per_instance`).
    RunningJob,
}

impl Clash {
    /// The clash for a PostgreSQL constraint or index name, if it is one of ours.
    pub fn from_constraint(name: &str) -> Option<Self> {
        match name {
            "instances_pkey" => Some(Clash::InstanceId),
            "instances_live_external_ref" => Some(Clash::LiveExternalRef),
            "instances_live_fqdn" => Some(Clash::LiveFqdn),
            "jobs_pkey" => Some(Clash::JobId),
            "jobs_one_running_per_instance" => Some(Clash::RunningJob),
            _ => None,
        }
    }

    /// The clash for the columns SQLite names ("instances.fqdn"), if it is one of ours.
    pub fn from_columns(columns: &str) -> Option<Self> {
        match columns {
            "instances.id" => Some(Clash::InstanceId),
            "instances.external_ref" => Some(Clash::LiveExternalRef),
            "instances.fqdn" => Some(Clash::LiveFqdn),
            "jobs.id" => Some(Clash::JobId),
            "jobs.instance_id" => Some(Clash::RunningJob),
            _ => None,
        }
    }

    /// What a user is told.
    pub fn message(self) -> &'static str {
        match self {
            Clash::InstanceId => "an instance with this id already exists",
            Clash::LiveExternalRef => "the external_ref is already carried by a live instance",
            Clash::LiveFqdn => "the fqdn is already carried by a live instance",
            Clash::JobId => "a job with this id already exists",
            Clash::RunningJob => "the instance already has a running job",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_namings_reach_the_same_message() {
        assert_eq!(
            Clash::from_constraint("instances_live_fqdn").map(Clash::message),
            Clash::from_columns("instances.fqdn").map(Clash::message)
        );
        assert_eq!(Clash::from_constraint("other"), None);
        assert!(!corrupt("x").is_retryable());
    }
}
