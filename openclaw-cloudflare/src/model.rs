//! The wire types of Cloudflare's API v4 for DNS records, as the OpenAPI schema in
//! `shared/specs/cloudflare-dns.openapi.json` defines them.
//!
//! Response types are lenient where the schema is (a record of a type we never manage still
//! decodes, so a list of a zone that holds MX or SRV records does not fail), and strict where
//! we depend on a field: a record without an `id` or `name` does not decode.

use serde::{Deserialize, Deserializer, Serialize};

/// The envelope of every Cloudflare API v4 response:
/// `{success, errors, messages, result, result_info}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Envelope<T> {
    /// Whether the call succeeded. Absent counts as `true` (the HTTP status is checked
    /// first): the spec's schema of the delete response has no `success` at all.
    #[serde(default = "yes")]
    pub success: bool,
    /// What went wrong; empty on success.
    #[serde(default)]
    pub errors: Vec<ApiMessage>,
    /// Informational messages.
    #[serde(default)]
    pub messages: Vec<ApiMessage>,
    /// The payload; `null` on failure.
    #[serde(default = "none")]
    pub result: Option<T>,
    /// Paging information of list calls.
    #[serde(default)]
    pub result_info: Option<ResultInfo>,
}

fn yes() -> bool {
    true
}

// `#[serde(default)]` on `Option<T>` would require `T: Default`.
fn none<T>() -> Option<T> {
    None
}

/// One entry of `errors` or `messages`.
///
/// Codes are `u32`: Cloudflare's DNS codes (81044, 81053, 81057, 81058) do not fit a `u16`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiMessage {
    /// Cloudflare's numeric code.
    pub code: u32,
    /// What it means, for a human.
    pub message: String,
}

/// Paging information of a list response.
///
/// The schema types these as JSON numbers; they are whole numbers in practice, and a
/// fractional value is refused rather than rounded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct ResultInfo {
    /// The page this is (1-based).
    #[serde(default, deserialize_with = "whole_opt")]
    pub page: Option<u64>,
    /// The page size the server applied.
    #[serde(default, deserialize_with = "whole_opt")]
    pub per_page: Option<u64>,
    /// Records on this page.
    #[serde(default, deserialize_with = "whole_opt")]
    pub count: Option<u64>,
    /// Records in the whole result.
    #[serde(default, deserialize_with = "whole_opt")]
    pub total_count: Option<u64>,
    /// Pages in the whole result (sent by the live API, not in the schema).
    #[serde(default, deserialize_with = "whole_opt")]
    pub total_pages: Option<u64>,
}

/// A DNS record as the API returns it (any type).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Record {
    /// Cloudflare's id: 32 hex digits.
    pub id: String,
    /// Fully qualified name, in Punycode.
    pub name: String,
    /// `A`, `AAAA`, `CNAME`, …
    #[serde(rename = "type")]
    pub record_type: String,
    /// Content; absent for types that carry `data` instead.
    #[serde(default)]
    pub content: Option<String>,
    /// Whether traffic goes through Cloudflare; absent for types that cannot be proxied.
    #[serde(default)]
    pub proxied: Option<bool>,
    /// Whether the record could be proxied.
    #[serde(default)]
    pub proxiable: Option<bool>,
    /// TTL in seconds; 1 means automatic.
    #[serde(default = "automatic_ttl", deserialize_with = "whole_u32")]
    pub ttl: u32,
    /// The free-text comment, where openclaw keeps its ownership mark.
    #[serde(default)]
    pub comment: Option<String>,
    /// `name:value` tags.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub tags: Vec<String>,
    /// When the record was created (RFC 3339).
    #[serde(default)]
    pub created_on: Option<String>,
    /// When the record was last changed (RFC 3339).
    #[serde(default)]
    pub modified_on: Option<String>,
}

/// The schema's default TTL: 1, automatic.
fn automatic_ttl() -> u32 {
    1
}

/// The body of a create (`POST`) or update (`PATCH`) of an A or AAAA record.
///
/// Every field is sent on an update too: the schema of the `PATCH` body is the full record
/// (`type`, `name` and `content` are required), and sending the comment again keeps the mark
/// even on a server that treats the update as a replacement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordBody {
    /// `A` or `AAAA`.
    #[serde(rename = "type")]
    pub record_type: String,
    /// Fully qualified name.
    pub name: String,
    /// The address.
    pub content: String,
    /// TTL in seconds (1 = automatic).
    pub ttl: u32,
    /// Whether Cloudflare proxies the traffic.
    pub proxied: bool,
    /// The ownership mark.
    pub comment: String,
}

/// The `result` of a delete: the id of the record that was removed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Deleted {
    /// Id of the deleted record.
    #[serde(default)]
    pub id: Option<String>,
}

/// A JSON number that must be a whole number: accepts `120` and `120.0`, refuses `1.5` and
/// anything negative.
fn whole<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let number = serde_json::Number::deserialize(d)?;
    if let Some(n) = number.as_u64() {
        return Ok(n);
    }
    match number.as_f64() {
        Some(f) if f >= 0.0 && f.fract() == 0.0 && f <= u64::MAX as f64 => Ok(f as u64),
        _ => Err(serde::de::Error::custom(format!(
            "expected a whole non-negative number, got {number}"
        ))),
    }
}

fn whole_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    struct Whole(#[serde(deserialize_with = "whole")] u64);
    Ok(Option::<Whole>::deserialize(d)?.map(|w| w.0))
}

fn whole_u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = whole(d)?;
    u32::try_from(n).map_err(|_| serde::de::Error::custom(format!("{n} does not fit a u32")))
}

fn null_as_empty<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_above_u16_survive() {
        let body = r#"{"success":false,"errors":[{"code":81057,"message":"The record already exists."}],"messages":[],"result":null}"#;
        let envelope: Envelope<Record> = serde_json::from_str(body).unwrap();
        assert!(!envelope.success);
        assert_eq!(envelope.errors[0].code, 81057);
        assert_eq!(envelope.result, None);
    }

    #[test]
    fn null_comment_and_tags_and_float_ttl_decode() {
        let body = r#"{"id":"abc","name":"a.example.com","type":"A","content":"192.0.2.1",
            "proxied":false,"ttl":300.0,"comment":null,"tags":null}"#;
        let record: Record = serde_json::from_str(body).unwrap();
        assert_eq!(record.ttl, 300);
        assert_eq!(record.comment, None);
        assert!(record.tags.is_empty());
    }

    #[test]
    fn fractional_ttl_is_refused() {
        let body = r#"{"id":"abc","name":"a.example.com","type":"A","ttl":1.5}"#;
        assert!(serde_json::from_str::<Record>(body).is_err());
    }
}
