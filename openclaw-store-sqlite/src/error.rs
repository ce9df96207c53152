//! sqlx errors as openclaw errors, so nothing above the store parses a message to decide
//! whether to retry.

use openclaw_core::Error;
use openclaw_store_sql::Clash;

/// SQLite's primary result codes that a later attempt may not meet: the database is busy or
/// locked by another connection or process, an I/O error, a full disk.
const SQLITE_BUSY: i32 = 5;
const SQLITE_LOCKED: i32 = 6;
const SQLITE_IOERR: i32 = 10;
const SQLITE_FULL: i32 = 13;

/// Maps an error of `operation` (a `Store` method name, for the message).
pub(crate) fn map(operation: &'static str, error: sqlx::Error) -> Error {
    match error {
        sqlx::Error::Database(db) => {
            if db.is_unique_violation() {
                return Error::conflict(unique_violation(db.message()));
            }
            // Extended result codes carry the primary code in their low byte.
            let code: i32 = db.code().and_then(|c| c.parse().ok()).unwrap_or_default();
            let retryable = matches!(
                code & 0xff,
                SQLITE_BUSY | SQLITE_LOCKED | SQLITE_IOERR | SQLITE_FULL
            );
            let hint = if db.message().starts_with("no such table") {
                " (is the database migrated? run `openclaw migrate` or connect with migrations on)"
            } else {
                ""
            };
            Error::Store {
                message: format!("{operation}: {db}{hint}"),
                retryable,
            }
        }
        sqlx::Error::PoolClosed => Error::Store {
            message: format!("{operation}: the store has been closed"),
            retryable: false,
        },
        e @ (sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::WorkerCrashed) => {
            Error::Store {
                message: format!("{operation}: {e}"),
                retryable: true,
            }
        }
        other => Error::Store {
            message: format!("{operation}: {other}"),
            retryable: false,
        },
    }
}

/// A message for a broken unique constraint. SQLite names the columns, not the index:
/// "UNIQUE constraint failed: instances.external_ref".
fn unique_violation(message: &str) -> String {
    let columns = message.rsplit(": ").next().unwrap_or_default();
    match Clash::from_columns(columns) {
        Some(clash) => clash.message().to_string(),
        None => format!("a unique constraint was violated: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_violations_name_the_clash() {
        assert_eq!(
            unique_violation("UNIQUE constraint failed: instances.fqdn"),
            "the fqdn is already carried by a live instance"
        );
        assert!(unique_violation("UNIQUE constraint failed: x.y").contains("x.y"));
        assert!(map("ping", sqlx::Error::PoolTimedOut).is_retryable());
        assert!(!map("ping", sqlx::Error::PoolClosed).is_retryable());
    }
}
