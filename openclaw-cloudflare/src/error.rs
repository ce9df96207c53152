//! What Cloudflare said, turned into openclaw's classified [`Error`].
//!
//! The rule: retry code above this crate reads [`Error::class`] and never a message, so every
//! failure leaves here with a class. Cloudflare's own codes (numbers above 65535 among them)
//! travel as text in [`Error::Provider::code`].

use std::fmt;
use std::time::Duration;

use openclaw_core::{Error, ErrorClass};

use crate::model::ApiMessage;

/// The provider name in errors and limiter logs.
pub const PROVIDER: &str = "cloudflare";

/// Cloudflare error codes this crate acts on.
pub mod codes {
    /// The zone id in the path does not exist or is not reachable with this token
    /// ("Could not route to …, perhaps your object identifier is invalid?").
    pub const INVALID_OBJECT_IDENTIFIER: u32 = 7003;
    /// No route for the URI.
    pub const NO_ROUTE: u32 = 7000;
    /// Missing authentication headers.
    pub const MISSING_AUTH: u32 = 9106;
    /// Invalid access token.
    pub const INVALID_TOKEN: u32 = 9109;
    /// Authentication error (a token without the needed permission).
    pub const AUTHENTICATION: u32 = 10000;
    /// Invalid request headers (a malformed `Authorization`).
    pub const INVALID_HEADERS: u32 = 6003;
    /// Invalid format for the `Authorization` header.
    pub const INVALID_AUTH_FORMAT: u32 = 6111;
    /// Record does not exist.
    pub const RECORD_NOT_FOUND: u32 = 81044;
    /// An A, AAAA or CNAME record with that host already exists.
    pub const HOST_TAKEN: u32 = 81053;
    /// The record already exists.
    pub const RECORD_EXISTS: u32 = 81057;
    /// A record with the same settings already exists.
    pub const IDENTICAL_RECORD: u32 = 81058;

    /// Codes a create answers with when a record is already there: look it up, adopt it if
    /// it is ours.
    pub const DUPLICATES: [u32; 3] = [HOST_TAKEN, RECORD_EXISTS, IDENTICAL_RECORD];
    /// Codes that mean the credentials are missing, wrong or not allowed.
    pub const AUTH: [u32; 5] = [
        MISSING_AUTH,
        INVALID_TOKEN,
        AUTHENTICATION,
        INVALID_HEADERS,
        INVALID_AUTH_FORMAT,
    ];
}

/// The API operations this crate calls; errors name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `GET /zones/{zone_id}/dns_records`
    ListRecords,
    /// `POST /zones/{zone_id}/dns_records`
    CreateRecord,
    /// `PATCH /zones/{zone_id}/dns_records/{dns_record_id}`
    UpdateRecord,
    /// `DELETE /zones/{zone_id}/dns_records/{dns_record_id}`
    DeleteRecord,
}

impl Endpoint {
    /// A short name for logs and error messages (`create_dns_record`).
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::ListRecords => "list_dns_records",
            Endpoint::CreateRecord => "create_dns_record",
            Endpoint::UpdateRecord => "update_dns_record",
            Endpoint::DeleteRecord => "delete_dns_record",
        }
    }

    /// Method and path template, as the spec names the operation.
    pub fn route(self) -> &'static str {
        match self {
            Endpoint::ListRecords => "GET /zones/{zone_id}/dns_records",
            Endpoint::CreateRecord => "POST /zones/{zone_id}/dns_records",
            Endpoint::UpdateRecord => "PATCH /zones/{zone_id}/dns_records/{dns_record_id}",
            Endpoint::DeleteRecord => "DELETE /zones/{zone_id}/dns_records/{dns_record_id}",
        }
    }

    /// Whether the call changes something, so that a lost response leaves its outcome
    /// unknown.
    pub fn is_write(self) -> bool {
        !matches!(self, Endpoint::ListRecords)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.route())
    }
}

/// A response that came back with `success: false` or a non-2xx status, before it is
/// classified: the DNS logic looks at the codes (duplicates, record not found) first.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    pub(crate) endpoint: Endpoint,
    pub(crate) status: u16,
    pub(crate) errors: Vec<ApiMessage>,
    /// The pause a 429 asked for (already applied to the limiter).
    pub(crate) retry_after: Option<Duration>,
    /// Cloudflare's `cf-ray`, for support tickets.
    pub(crate) ray: Option<String>,
}

impl ApiError {
    pub(crate) fn has_code(&self, code: u32) -> bool {
        self.errors.iter().any(|e| e.code == code)
    }

    pub(crate) fn has_any_code(&self, codes: &[u32]) -> bool {
        codes.iter().any(|c| self.has_code(*c))
    }

    /// "Already gone" for a delete: 404 or 81044, unless the codes say the zone itself was
    /// not found (7000/7003) — a wrong zone id must surface, or every delete would "succeed"
    /// while the records stay behind.
    pub(crate) fn is_record_gone(&self) -> bool {
        let wrong_zone = self.has_any_code(&[codes::NO_ROUTE, codes::INVALID_OBJECT_IDENTIFIER]);
        !wrong_zone && (self.status == 404 || self.has_code(codes::RECORD_NOT_FOUND))
    }

    fn class(&self) -> ErrorClass {
        if self.status == 429 {
            return ErrorClass::RateLimited {
                retry_after: self.retry_after,
            };
        }
        if self.status >= 500 {
            return ErrorClass::Retryable;
        }
        // An update of a record that vanished since the look-up: the next ensure creates it.
        if self.endpoint == Endpoint::UpdateRecord && self.has_code(codes::RECORD_NOT_FOUND) {
            return ErrorClass::Retryable;
        }
        // Everything else in 4xx (bad input, auth, a duplicate nobody adopted) repeats
        // identically when retried.
        ErrorClass::Permanent
    }

    fn message(&self) -> String {
        let what = if self.errors.is_empty() {
            "no error details".to_string()
        } else {
            self.errors
                .iter()
                .map(|e| format!("{}: {}", e.code, e.message))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let auth = if self.status == 401 || self.status == 403 || self.has_any_code(&codes::AUTH) {
            " (check the API token and its DNS edit permission on the zone)"
        } else {
            ""
        };
        format!("{}: {what}{auth}", self.endpoint.name())
    }

    pub(crate) fn into_error(self) -> Error {
        if self.status == 429 {
            return Error::RateLimited {
                provider: PROVIDER.to_string(),
                retry_after: self.retry_after,
            };
        }
        if self.errors.is_empty() && self.status >= 500 {
            return Error::Unavailable {
                service: PROVIDER.to_string(),
                message: format!("{} answered HTTP {}", self.endpoint.name(), self.status),
                status: Some(self.status),
            };
        }
        let class = self.class();
        let code = self
            .errors
            .first()
            .map_or_else(|| format!("http_{}", self.status), |e| e.code.to_string());
        Error::Provider {
            provider: PROVIDER.to_string(),
            code,
            status: Some(self.status),
            message: self.message(),
            correlation_id: self.ray,
            class,
        }
    }
}

/// A failed call: either Cloudflare answered with an error (kept raw for the DNS logic), or
/// the failure is already classified (transport, undecodable body, limiter).
#[derive(Debug, Clone)]
pub(crate) enum CallError {
    Api(ApiError),
    Other(Error),
}

impl From<CallError> for Error {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Api(api) => api.into_error(),
            CallError::Other(e) => e,
        }
    }
}

impl From<Error> for CallError {
    fn from(e: Error) -> Self {
        CallError::Other(e)
    }
}

/// A body that does not decode. Names the endpoint and the JSON path of the field. For a
/// write, the change may have been made even though we cannot read what came back, so the
/// caller must look before it tries again.
pub(crate) fn undecodable(
    endpoint: Endpoint,
    status: u16,
    path: &str,
    detail: &str,
    ray: Option<String>,
) -> Error {
    let field = if path.is_empty() || path == "." {
        "the body".to_string()
    } else {
        format!("field `{path}`")
    };
    Error::Provider {
        provider: PROVIDER.to_string(),
        code: "invalid_response".to_string(),
        status: Some(status),
        message: format!(
            "{endpoint}: {field} of the response (HTTP {status}) does not parse: {detail}"
        ),
        correlation_id: ray,
        class: if endpoint.is_write() {
            ErrorClass::Ambiguous
        } else {
            ErrorClass::Retryable
        },
    }
}

/// A request that failed below HTTP. One that never reached Cloudflare (no connection) is
/// retryable; a write whose response was lost (timeout, connection reset) is ambiguous.
pub(crate) fn transport(endpoint: Endpoint, error: &reqwest::Error) -> Error {
    let detail = describe(error);
    if error.is_connect() || error.is_builder() || !endpoint.is_write() {
        return Error::Unavailable {
            service: PROVIDER.to_string(),
            message: format!("{endpoint}: {detail}"),
            status: None,
        };
    }
    Error::ambiguous(
        format!("{PROVIDER} {}", endpoint.name()),
        format!("the response was lost ({detail}); look the record up before trying again"),
    )
}

/// The error and its causes, without the URL (reqwest puts it in the message; the caller
/// already names the endpoint).
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(&format!(" for url ({url})"), "");
    }
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(endpoint: Endpoint, status: u16, codes: &[u32]) -> ApiError {
        ApiError {
            endpoint,
            status,
            errors: codes
                .iter()
                .map(|c| ApiMessage {
                    code: *c,
                    message: format!("message {c}"),
                })
                .collect(),
            retry_after: Some(Duration::from_secs(9)),
            ray: Some("8c0ffee".into()),
        }
    }

    #[test]
    fn a_429_is_rate_limited_with_its_pause() {
        let e = api(Endpoint::ListRecords, 429, &[971]).into_error();
        assert!(matches!(
            e,
            Error::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(9)
        ));
    }

    #[test]
    fn server_errors_are_retryable_and_keep_the_code() {
        let e = api(Endpoint::CreateRecord, 502, &[]).into_error();
        assert!(matches!(
            e,
            Error::Unavailable {
                status: Some(502),
                ..
            }
        ));
        assert!(e.is_server_error());
        let e = api(Endpoint::CreateRecord, 500, &[10001]).into_error();
        assert_eq!(e.class(), ErrorClass::Retryable);
        assert!(matches!(&e, Error::Provider { code, .. } if code == "10001"));
    }

    #[test]
    fn auth_failures_are_permanent_and_say_so() {
        let e = api(Endpoint::ListRecords, 403, &[codes::AUTHENTICATION]).into_error();
        assert_eq!(e.class(), ErrorClass::Permanent);
        assert!(e.to_string().contains("API token"), "{e}");
        assert!(e.to_string().contains("10000"), "{e}");
    }

    #[test]
    fn big_codes_stay_whole() {
        let e = api(Endpoint::CreateRecord, 400, &[codes::IDENTICAL_RECORD]).into_error();
        assert!(
            matches!(&e, Error::Provider { code, status: Some(400), correlation_id: Some(ray), .. }
            if code == "81058" && ray == "8c0ffee")
        );
    }

    #[test]
    fn gone_means_the_record_not_the_zone() {
        assert!(api(Endpoint::DeleteRecord, 404, &[codes::RECORD_NOT_FOUND]).is_record_gone());
        assert!(api(Endpoint::DeleteRecord, 404, &[]).is_record_gone());
        assert!(api(Endpoint::DeleteRecord, 400, &[codes::RECORD_NOT_FOUND]).is_record_gone());
        assert!(!api(
            Endpoint::DeleteRecord,
            404,
            &[codes::INVALID_OBJECT_IDENTIFIER]
        )
        .is_record_gone());
        assert!(!api(Endpoint::DeleteRecord, 400, &[1004]).is_record_gone());
    }

    #[test]
    fn undecodable_names_endpoint_and_field() {
        let e = undecodable(Endpoint::CreateRecord, 200, "result.ttl", "bad", None);
        assert_eq!(e.class(), ErrorClass::Ambiguous);
        let text = e.to_string();
        assert!(
            text.contains("create_dns_record") && text.contains("result.ttl"),
            "{text}"
        );
        let e = undecodable(Endpoint::ListRecords, 200, "", "expected value", None);
        assert_eq!(e.class(), ErrorClass::Retryable);
    }
}
