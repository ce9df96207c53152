//! Extractors whose failures answer with the API's error shape: JSON bodies (400 when not
//! JSON, 422 naming the field when of the wrong shape, 413 when too large), instance ids
//! in paths, and query strings.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use openclaw_core::domain::InstanceId;
use serde::de::DeserializeOwned;

use crate::error::AppError;
use crate::state::AppState;

/// A JSON body of type `T`. An empty body reads as `T::default()` when `OPTIONAL`.
#[derive(Debug)]
pub struct JsonBody<T, const OPTIONAL: bool = false>(pub T);

/// A JSON body that may be left out (empty), reading as `T::default()`.
pub type OptionalJson<T> = JsonBody<T, true>;

/// Parses `bytes` as a `T`, with the API's errors.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => AppError::InvalidBody {
                field: path,
                message: inner.to_string(),
            },
            _ => AppError::MalformedBody(inner.to_string()),
        }
    })?;
    deserializer
        .end()
        .map_err(|e| AppError::MalformedBody(e.to_string()))?;
    Ok(value)
}

impl<T, const OPTIONAL: bool> FromRequest<AppState> for JsonBody<T, OPTIONAL>
where
    T: DeserializeOwned + Default,
{
    type Rejection = AppError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let limit = state.settings.body_limit;
        let bytes = Bytes::from_request(request, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                AppError::PayloadTooLarge(limit)
            } else {
                AppError::MalformedBody("the body could not be read".to_string())
            }
        })?;
        // Left out: an empty body, or JSON `null` (what the document's optional body allows).
        if OPTIONAL && (bytes.iter().all(u8::is_ascii_whitespace) || bytes.trim_ascii() == b"null")
        {
            return Ok(JsonBody(T::default()));
        }
        // Every body of this API is an object: serde would also read a struct from an array
        // of its fields (`[]` as "every field at its default"), which no client means.
        if bytes.trim_ascii_start().first() != Some(&b'{') {
            serde_json::from_slice::<serde::de::IgnoredAny>(&bytes)
                .map_err(|e| AppError::MalformedBody(e.to_string()))?;
            return Err(AppError::InvalidBody {
                field: ".".to_string(),
                message: "the body must be a JSON object".to_string(),
            });
        }
        parse_json(&bytes).map(JsonBody)
    }
}

/// The `{id}` of an instance path; anything but a UUID is 422 naming `id`.
#[derive(Debug, Clone, Copy)]
pub struct InstancePath(pub InstanceId);

impl<S: Send + Sync> FromRequestParts<S> for InstancePath {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| AppError::invalid("id", "is not an instance id (a UUID)"))?;
        raw.parse::<InstanceId>()
            .map(InstancePath)
            .map_err(|_| AppError::invalid("id", "is not an instance id (a UUID)"))
    }
}

/// A query string of type `T` (unknown parameters refused with 422).
#[derive(Debug)]
pub struct QueryOf<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryOf<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        serde_urlencoded::from_str(query)
            .map(QueryOf)
            .map_err(|e| AppError::invalid("query", e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CreateInstanceRequest;

    #[test]
    fn json_errors_are_classified() {
        assert!(matches!(
            parse_json::<CreateInstanceRequest>(b"{nope"),
            Err(AppError::MalformedBody(_))
        ));
        assert!(matches!(
            parse_json::<CreateInstanceRequest>(
                br#"{"subdomain":"a","plan":"starter","region":"eu-west"} trailing"#
            ),
            Err(AppError::MalformedBody(_))
        ));
        let unknown = parse_json::<CreateInstanceRequest>(
            br#"{"subdomain":"a","plan":"starter","region":"eu-west","colour":"red"}"#,
        );
        assert!(matches!(unknown, Err(AppError::InvalidBody { .. })));
        let wrong = parse_json::<CreateInstanceRequest>(
            br#"{"subdomain":"a","plan":"starter","region":"eu-west","provider_keys":{"A":1}}"#,
        );
        match wrong {
            Err(AppError::InvalidBody { field, .. }) => assert_eq!(field, "provider_keys.A"),
            other => panic!("{other:?}"),
        }
    }
}
