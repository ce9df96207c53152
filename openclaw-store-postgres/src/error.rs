//! sqlx errors as openclaw errors. The engine decides whether to retry from the variant and
//! its `retryable` flag, never from a message, so every SQLSTATE that matters is mapped here.

use openclaw_core::Error;
use openclaw_store_sql::Clash;
use sqlx::postgres::PgDatabaseError;

/// Maps an error of `operation` (a `Store` method name, for the message).
pub(crate) fn map(operation: &'static str, error: sqlx::Error) -> Error {
    match error {
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            let detail = db
                .try_downcast_ref::<PgDatabaseError>()
                .and_then(|pg| pg.detail())
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            if code == "23505" {
                return Error::conflict(format!(
                    "{}{detail}",
                    unique_violation(db.constraint().unwrap_or_default())
                ));
            }
            if code.starts_with("22") {
                return Error::invalid("value", format!("{operation}: {db}{detail}"));
            }
            let retryable = is_transient(&code);
            let hint = if code == "42P01" {
                " (is the schema migrated? run `openclaw migrate` or connect with migrations on)"
            } else {
                ""
            };
            Error::Store {
                message: format!("{operation}: {db} [SQLSTATE {code}]{hint}"),
                retryable,
            }
        }
        sqlx::Error::PoolClosed => Error::Store {
            message: format!("{operation}: the store has been closed"),
            retryable: false,
        },
        e @ (sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::WorkerCrashed) => Error::Store {
            message: format!("{operation}: connection to PostgreSQL failed: {e}"),
            retryable: true,
        },
        other => Error::Store {
            message: format!("{operation}: {other}"),
            retryable: false,
        },
    }
}

/// Errors that a later attempt of the same call may not meet: lost or refused connections,
/// an administrator's shutdown (`pg_terminate_backend`), resource shortage, serialization
/// failures and deadlocks.
fn is_transient(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("53")
        || code.starts_with("57P")
        || matches!(code, "40001" | "40P01" | "55P03" | "57014")
}

/// A message for a broken unique constraint, by the constraint's name in the migrations.
fn unique_violation(constraint: &str) -> String {
    match Clash::from_constraint(constraint) {
        Some(clash) => clash.message().to_string(),
        None if constraint.is_empty() => "a unique constraint was violated".to_string(),
        None => format!("unique constraint {constraint} violated"),
    }
}

/// Whether `error` is a unique violation of `constraint`.
pub(crate) fn violates(error: &sqlx::Error, constraint: &str) -> bool {
    match error {
        sqlx::Error::Database(db) => {
            db.code().as_deref() == Some("23505") && db.constraint() == Some(constraint)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_trouble_is_retryable_and_constraints_are_not() {
        assert!(is_transient("57P01"), "pg_terminate_backend");
        assert!(is_transient("08006"));
        assert!(is_transient("40001"));
        assert!(is_transient("53300"), "too many connections");
        assert!(!is_transient("23503"));
        assert!(!is_transient("42P01"));
        let e = map("ping", sqlx::Error::PoolTimedOut);
        assert!(e.is_retryable());
        let e = map("ping", sqlx::Error::PoolClosed);
        assert!(!e.is_retryable());
    }
}
