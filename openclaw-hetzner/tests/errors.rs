//! The classification table: each Hetzner error code (and bare status) to what a caller may
//! do, for idempotent requests and for a create.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use openclaw_core::ErrorClass::{self, Ambiguous, Permanent, Retryable};
use openclaw_hetzner::error::{classify, classify_for, RequestKind};

fn limited(wait: Option<Duration>) -> ErrorClass {
    ErrorClass::RateLimited { retry_after: wait }
}

#[test]
fn every_code_has_its_class() {
    let wait = Some(Duration::from_secs(1));
    // (status, code, idempotent request, create)
    let table: &[(u16, Option<&str>, ErrorClass, ErrorClass)] = &[
        (409, Some("conflict"), Retryable, Retryable),
        (
            429,
            Some("rate_limit_exceeded"),
            limited(wait),
            limited(wait),
        ),
        (504, Some("timeout"), Retryable, Ambiguous),
        (502, Some("bad_gateway"), Retryable, Ambiguous),
        (502, None, Retryable, Ambiguous),
        (504, None, Retryable, Ambiguous),
        (423, Some("locked"), Retryable, Retryable),
        (409, Some("uniqueness_error"), Permanent, Permanent),
        (400, Some("invalid_input"), Permanent, Permanent),
        (400, Some("json_error"), Permanent, Permanent),
        (403, Some("forbidden"), Permanent, Permanent),
        (401, Some("unauthorized"), Permanent, Permanent),
        (403, Some("token_readonly"), Permanent, Permanent),
        (403, Some("resource_limit_exceeded"), Permanent, Permanent),
        (403, Some("protected"), Permanent, Permanent),
        (404, Some("not_found"), Permanent, Permanent),
        (412, Some("placement_error"), Permanent, Permanent),
        // Not retried blindly: a create that met a server error is looked up first.
        (503, Some("service_error"), Retryable, Ambiguous),
        (503, Some("maintenance"), Retryable, Ambiguous),
        (503, None, Retryable, Ambiguous),
        (500, Some("server_error"), Retryable, Ambiguous),
        // Unknown codes fall back on the status.
        (418, Some("brand_new_code"), Permanent, Permanent),
        (429, None, limited(wait), limited(wait)),
        (599, Some("brand_new_code"), Retryable, Ambiguous),
    ];
    for (status, code, idempotent, create) in table {
        assert_eq!(
            classify(*status, *code, wait),
            *idempotent,
            "{status} {code:?}"
        );
        assert_eq!(
            classify_for(RequestKind::Create, *status, *code, wait),
            *create,
            "create: {status} {code:?}"
        );
    }
}

#[test]
fn the_code_wins_over_the_status() {
    // Classification reads the code: a `locked` is retryable whatever status carries it.
    assert_eq!(classify(400, Some("locked"), None), Retryable);
    assert_eq!(classify(500, Some("invalid_input"), None), Permanent);
}
