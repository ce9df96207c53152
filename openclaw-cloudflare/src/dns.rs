//! [`CloudflareDns`]: the [`Dns`] port on Cloudflare's DNS-records API.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use openclaw_core::domain::{DeploymentName, RecordId};
use openclaw_core::ports::ownership::{Ownership, DNS_COMMENT_PREFIX};
use openclaw_core::ports::{Dns, DnsRecord, RateLimiter, RecordSpec, RecordType};
use openclaw_core::{Clock, Error, Result};

use crate::client::Client;
use crate::config::{check_ttl, CloudflareConfig};
use crate::error::{self, codes, CallError, Endpoint};
use crate::model::{Record, RecordBody};

/// Cloudflare's limit on a comment (Free plan; paid plans allow more).
const MAX_COMMENT_LEN: usize = 100;

/// A list that has not ended after this many pages is a server bug, not a zone.
const MAX_PAGES: u64 = 10_000;

/// The records of one Cloudflare zone, as one deployment of openclaw sees them.
///
/// Ownership is the record comment `openclaw:<deployment>:<instance>`
/// ([`Ownership::dns_comment`]). A record without that exact mark is never changed or
/// deleted by [`ensure_records`](Dns::ensure_records): it is a [`Conflict`](Error::Conflict).
///
/// Every HTTP request takes one permit from the limiter given to [`new`](Self::new) and
/// reports Cloudflare's rate-limit headers back to it; share one limiter among every adapter
/// of the process that uses the same token.
pub struct CloudflareDns {
    client: Client,
    owner: DeploymentName,
    apex: String,
    ttl: Option<u32>,
    proxied: Option<bool>,
    page_size: u32,
}

impl std::fmt::Debug for CloudflareDns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudflareDns")
            .field("zone", &self.apex)
            .field("owner", &self.owner)
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

/// What `ensure_records` found at the name for one wanted type.
struct Plan {
    record_type: RecordType,
    content: String,
    ours: Vec<Record>,
}

impl CloudflareDns {
    /// An adapter for `config.zone_id`, acting for `config.owner`. The token is the
    /// configured one or `CLOUDFLARE_API_TOKEN`. Makes no request.
    pub fn new(config: CloudflareConfig, limiter: Arc<dyn RateLimiter>) -> Result<Self> {
        config.validate()?;
        let token = config.resolve_token(|key| std::env::var(key).ok())?;
        Ok(CloudflareDns {
            client: Client::new(&config, token, limiter)?,
            owner: config.owner.clone(),
            apex: config.zone_apex(),
            ttl: config.ttl,
            proxied: config.proxied,
            page_size: config.page_size,
        })
    }

    /// Uses `clock` for "now" when reading a `Retry-After` given as an HTTP date (default:
    /// the system clock).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.client.set_clock(clock);
        self
    }

    /// The deployment this adapter acts for.
    pub fn owner(&self) -> &DeploymentName {
        &self.owner
    }

    /// The name as Cloudflare stores it (lowercase, no trailing dot), or `InvalidInput` when
    /// it is outside the zone: a typo must not become a request.
    fn normalize(&self, name: &str) -> Result<String> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let inside = name == self.apex
            || name
                .strip_suffix(self.apex.as_str())
                .is_some_and(|head| head.len() > 1 && head.ends_with('.'));
        if inside && name.len() <= 255 {
            Ok(name)
        } else {
            Err(Error::invalid(
                "name",
                format!("{name:?} is not in zone {}", self.apex),
            ))
        }
    }

    /// Every record of any type at exactly `name` (already normalized).
    async fn records_at(&self, name: &str) -> Result<Vec<Record>> {
        self.list_all(&[("name", name.to_string())]).await
    }

    /// Follows the pages of a list. Stops at a short page, or when the pages seen cover the
    /// total the server reported.
    async fn list_all(&self, filters: &[(&str, String)]) -> Result<Vec<Record>> {
        let mut out: Vec<Record> = Vec::new();
        let mut seen = HashSet::new();
        for page in 1..=MAX_PAGES {
            let listed = self
                .client
                .list_records(filters, page, self.page_size)
                .await?;
            let count = listed.records.len() as u64;
            // Offsets shift when records come and go between pages; keep each id once.
            for record in listed.records {
                if seen.insert(record.id.clone()) {
                    out.push(record);
                }
            }
            let info = listed.info.unwrap_or_default();
            let per_page = info
                .per_page
                .filter(|p| *p > 0)
                .unwrap_or(u64::from(self.page_size));
            let covered = info
                .total_count
                .is_some_and(|total| page.saturating_mul(per_page) >= total);
            if count < per_page || covered {
                return Ok(out);
            }
        }
        Err(error::undecodable(
            Endpoint::ListRecords,
            200,
            "result_info",
            &format!("still more pages after {MAX_PAGES}"),
            None,
        ))
    }

    /// A record as the port reports it; a record we cannot represent is an error naming the
    /// field, not a panic or a silent skip.
    fn to_dns_record(endpoint: Endpoint, record: Record) -> Result<DnsRecord> {
        let bad = |field: &str, detail: String| {
            error::undecodable(endpoint, 200, &format!("result.{field}"), &detail, None)
        };
        let record_type = record_type(&record.record_type)
            .ok_or_else(|| bad("type", format!("{:?} is not A or AAAA", record.record_type)))?;
        let id = RecordId::parse(record.id.as_str()).map_err(|e| bad("id", e.to_string()))?;
        let content = record
            .content
            .ok_or_else(|| bad("content", "missing".to_string()))?;
        Ok(DnsRecord {
            id,
            name: record.name,
            record_type,
            content,
            ttl: record.ttl,
            proxied: record.proxied.unwrap_or(false),
            ownership: record
                .comment
                .as_deref()
                .and_then(Ownership::from_dns_comment),
            created_at: record
                .created_on
                .as_deref()
                .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
                .map(|at| at.with_timezone(&chrono::Utc)),
        })
    }

    /// Who a record belongs to, for a conflict message.
    fn describe_owner(record: &Record) -> String {
        match record
            .comment
            .as_deref()
            .and_then(Ownership::from_dns_comment)
        {
            Some(o) => format!("marked for deployment {} instance {}", o.owner, o.instance),
            None => "not marked by openclaw".to_string(),
        }
    }

    fn conflict(record: &Record, name: &str, why: &str) -> Error {
        tracing::warn!(
            record = %record.id,
            name,
            record_type = %record.record_type,
            "refusing to touch a DNS record that is not ours"
        );
        Error::conflict(format!(
            "{} record {} at {name} is {}{why}; it was left untouched",
            record.record_type,
            record.id,
            Self::describe_owner(record),
        ))
    }

    /// Checks what is at the name for every wanted type before anything is written, so a
    /// conflict on AAAA does not leave a new A behind.
    fn plan(&self, spec: &RecordSpec, name: &str, existing: Vec<Record>) -> Result<Vec<Plan>> {
        if let Some(cname) = existing.iter().find(|r| r.record_type == "CNAME") {
            return Err(Self::conflict(
                cname,
                name,
                " (A and AAAA records cannot share a name with a CNAME)",
            ));
        }
        let mut plans = Vec::new();
        for (record_type, content) in spec.wanted() {
            let mut ours = Vec::new();
            for record in existing
                .iter()
                .filter(|r| r.record_type == record_type.as_str())
            {
                if marked(record).as_ref() == Some(&spec.ownership) {
                    ours.push(record.clone());
                } else {
                    return Err(Self::conflict(record, name, ""));
                }
            }
            plans.push(Plan {
                record_type,
                content,
                ours,
            });
        }
        Ok(plans)
    }

    /// Makes one of `ours` match `body` and removes the others (at most one record per name,
    /// type and instance). Prefers the one whose content already matches.
    async fn converge(&self, body: &RecordBody, mut ours: Vec<Record>) -> Result<Record> {
        let keep = ours
            .iter()
            .position(|r| same_content(r.content.as_deref(), &body.content))
            .unwrap_or(0);
        let keeper = ours.swap_remove(keep);
        for extra in ours {
            tracing::info!(record = %extra.id, name = %body.name, "deleting a duplicate of our own record");
            self.delete_raw(&extra.id).await?;
        }
        let differs = !same_content(keeper.content.as_deref(), &body.content)
            || keeper.ttl != body.ttl
            || keeper.proxied.unwrap_or(false) != body.proxied;
        if !differs {
            tracing::debug!(record = %keeper.id, name = %body.name, "adopting our record");
            return Ok(keeper);
        }
        tracing::info!(record = %keeper.id, name = %body.name, "updating our record");
        Ok(self.client.update_record(&keeper.id, body).await?)
    }

    /// Creates the record; when Cloudflare says one is already there (81053/81057/81058),
    /// someone created it since our look-up — perhaps we did, through a response we lost —
    /// so look again and adopt it if it is ours.
    async fn create(&self, spec: &RecordSpec, body: &RecordBody) -> Result<Record> {
        let failure = match self.client.create_record(body).await {
            Ok(record) => {
                tracing::info!(record = %record.id, name = %body.name, record_type = %body.record_type, "created DNS record");
                return Ok(record);
            }
            Err(CallError::Api(api)) if api.has_any_code(&codes::DUPLICATES) => api,
            Err(e) => return Err(e.into()),
        };
        tracing::info!(name = %body.name, codes = ?failure.errors, "create found a record already there; looking again");
        let existing = self.records_at(&body.name).await?;
        let plans = self.plan(spec, &body.name, existing)?;
        match plans
            .into_iter()
            .find(|p| p.record_type.as_str() == body.record_type)
        {
            Some(plan) if !plan.ours.is_empty() => self.converge(body, plan.ours).await,
            // Nothing at the name that explains the refusal: report what Cloudflare said.
            _ => Err(failure.into_error()),
        }
    }

    async fn delete_raw(&self, id: &str) -> Result<()> {
        match self.client.delete_record(id).await {
            Ok(()) => Ok(()),
            Err(CallError::Api(api)) if api.is_record_gone() => {
                tracing::debug!(record = id, "record already gone");
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }
}

fn record_type(text: &str) -> Option<RecordType> {
    match text {
        "A" => Some(RecordType::A),
        "AAAA" => Some(RecordType::Aaaa),
        _ => None,
    }
}

/// Whether a record's content is the wanted address. Compared as addresses, so that an
/// IPv6 address Cloudflare wrote in another (equally valid) form is not seen as a change on
/// every ensure.
fn same_content(current: Option<&str>, wanted: &str) -> bool {
    let Some(current) = current else {
        return false;
    };
    match (current.parse::<IpAddr>(), wanted.parse::<IpAddr>()) {
        (Ok(a), Ok(b)) => a == b,
        _ => current == wanted,
    }
}

fn marked(record: &Record) -> Option<Ownership> {
    record
        .comment
        .as_deref()
        .and_then(Ownership::from_dns_comment)
}

#[async_trait]
impl Dns for CloudflareDns {
    async fn ensure_records(&self, spec: &RecordSpec) -> Result<Vec<DnsRecord>> {
        let name = self.normalize(&spec.name)?;
        if spec.ownership.owner != self.owner {
            // list_owned would never see such records: the sweep could not clean them up.
            return Err(Error::invalid(
                "ownership",
                format!(
                    "the records are for deployment {}, this adapter acts for {}",
                    spec.ownership.owner, self.owner
                ),
            ));
        }
        let proxied = self.proxied.unwrap_or(spec.proxied);
        let ttl = self.ttl.unwrap_or(spec.ttl);
        check_ttl(ttl).map_err(|m| Error::invalid("ttl", m))?;
        // Cloudflare keeps proxied records at TTL 1 (automatic) whatever is sent; asking for
        // anything else would look like a difference, and an update, on every call.
        let ttl = if proxied { 1 } else { ttl };
        let comment = spec.ownership.dns_comment();
        if comment.len() > MAX_COMMENT_LEN {
            return Err(Error::invalid(
                "ownership",
                format!("the mark {comment:?} is longer than {MAX_COMMENT_LEN} characters"),
            ));
        }

        let existing = self.records_at(&name).await?;
        let plans = self.plan(spec, &name, existing)?;
        let mut out = Vec::with_capacity(plans.len());
        for plan in plans {
            let body = RecordBody {
                record_type: plan.record_type.as_str().to_string(),
                name: name.clone(),
                content: plan.content,
                ttl,
                proxied,
                comment: comment.clone(),
            };
            let (record, endpoint) = if plan.ours.is_empty() {
                (self.create(spec, &body).await?, Endpoint::CreateRecord)
            } else {
                (
                    self.converge(&body, plan.ours).await?,
                    Endpoint::UpdateRecord,
                )
            };
            out.push(Self::to_dns_record(endpoint, record)?);
        }
        Ok(out)
    }

    async fn find_records(&self, name: &str) -> Result<Vec<DnsRecord>> {
        let name = self.normalize(name)?;
        self.records_at(&name)
            .await?
            .into_iter()
            .filter(|r| record_type(&r.record_type).is_some())
            .map(|r| Self::to_dns_record(Endpoint::ListRecords, r))
            .collect()
    }

    async fn delete_record(&self, id: &RecordId) -> Result<()> {
        self.delete_raw(id.as_str()).await
    }

    async fn list_owned(&self) -> Result<Vec<DnsRecord>> {
        // Server-side filter on the mark's prefix (the spec's `comment.startswith`; the
        // colon after the deployment keeps `prod` from matching `prod-eu`). Comment filters
        // are case-insensitive, so the mark is parsed again here.
        let prefix = format!("{DNS_COMMENT_PREFIX}{}:", self.owner);
        let records = self.list_all(&[("comment.startswith", prefix)]).await?;
        let mut out = Vec::with_capacity(records.len());
        for record in records {
            let ours = marked(&record).is_some_and(|o| o.owner == self.owner);
            if !ours {
                continue;
            }
            if record_type(&record.record_type).is_none() {
                tracing::warn!(record = %record.id, record_type = %record.record_type, "a record carries our mark but is not A/AAAA; ignoring it");
                continue;
            }
            out.push(Self::to_dns_record(Endpoint::ListRecords, record)?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::same_content;

    #[test]
    fn addresses_compare_as_addresses() {
        assert!(same_content(Some("2001:DB8:0:0::10"), "2001:db8::10"));
        assert!(same_content(Some("192.0.2.1"), "192.0.2.1"));
        assert!(!same_content(Some("192.0.2.1"), "192.0.2.2"));
        assert!(!same_content(None, "192.0.2.2"));
        assert!(same_content(Some("text"), "text"));
    }
}
