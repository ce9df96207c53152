//! The smaller records as rows: API keys, customer links and idempotency keys.

use openclaw_core::domain::{ApiKey, CustomerId, CustomerLink, IdempotencyRecord, Scope};
use openclaw_core::Result;

use crate::columns::Columns;
use crate::errors::corrupt;

/// The columns of `api_keys`, in the order the statements of both stores select them.
pub const API_KEY_COLUMNS: &str =
    "id, name, scope, customer_id, secret_hash, created_at, revoked_at";

/// The columns of `customer_links`, in the order the statements of both stores select them.
pub const CUSTOMER_LINK_COLUMNS: &str = "uid, customer_id, linked_at";

/// The link in a row of [`CUSTOMER_LINK_COLUMNS`].
pub fn customer_link_from(row: &impl Columns) -> Result<CustomerLink> {
    Ok(CustomerLink {
        uid: row.text("uid")?,
        customer_id: CustomerId::parse(&row.text("customer_id")?).map_err(corrupt)?,
        linked_at: row.time("linked_at")?,
    })
}

/// The columns of `idempotency_keys`, in the order the statements of both stores select
/// them.
pub const IDEMPOTENCY_COLUMNS: &str = "key, request_hash, response, created_at, expires_at";

/// The API key in a row of [`API_KEY_COLUMNS`].
pub fn api_key_from(row: &impl Columns) -> Result<ApiKey> {
    let scope = row.text("scope")?;
    Ok(ApiKey {
        id: row.text("id")?,
        name: row.text("name")?,
        scope: scope.parse::<Scope>().map_err(corrupt)?,
        customer_id: row
            .opt_text("customer_id")?
            .map(CustomerId::parse)
            .transpose()
            .map_err(corrupt)?,
        secret_hash: row.text("secret_hash")?,
        created_at: row.time("created_at")?,
        revoked_at: row.opt_time("revoked_at")?,
    })
}

/// The idempotency record in a row of [`IDEMPOTENCY_COLUMNS`].
pub fn idempotency_record_from(row: &impl Columns) -> Result<IdempotencyRecord> {
    Ok(IdempotencyRecord {
        key: row.text("key")?,
        request_hash: row.text("request_hash")?,
        response: row.opt_json("response")?,
        created_at: row.time("created_at")?,
        expires_at: row.time("expires_at")?,
    })
}
