//! One zone of the fake: its records and the rules the live API enforces on them
//! (validation, duplicates, CNAME exclusivity, automatic TTL of proxied records).

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use serde_json::{json, Map, Value};

use super::filter::ListQuery;
use super::state::{codes, Reply};
use super::FakeRecord;

/// Cloudflare's longest comment on the Free plan.
const MAX_COMMENT: usize = 100;

/// One stored record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    /// Creation order, the tie-breaker of every ordering.
    pub(crate) seq: u64,
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) record_type: String,
    pub(crate) content: String,
    pub(crate) ttl: u32,
    pub(crate) proxied: bool,
    pub(crate) comment: Option<String>,
    pub(crate) tags: Vec<String>,
    pub(crate) created_on: String,
    pub(crate) modified_on: String,
}

impl Row {
    pub(crate) fn to_public(&self, zone_id: &str) -> FakeRecord {
        FakeRecord {
            id: self.id.clone(),
            zone_id: zone_id.to_string(),
            name: self.name.clone(),
            record_type: self.record_type.clone(),
            content: self.content.clone(),
            ttl: self.ttl,
            proxied: self.proxied,
            comment: self.comment.clone(),
            tags: self.tags.clone(),
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Zone {
    pub(crate) name: String,
    pub(crate) records: BTreeMap<String, Row>,
}

pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

pub(crate) fn not_found() -> Reply {
    Reply::error(404, codes::RECORD_NOT_FOUND, "Record does not exist.")
}

pub(crate) fn parse_body(bytes: &[u8]) -> Result<Map<String, Value>, Reply> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Reply::error(
            400,
            codes::INVALID_BODY,
            "Request body is invalid.",
        )),
    }
}

/// A name as Cloudflare stores it: `@` is the apex, a name outside the zone is taken as
/// relative to it, lowercase, no trailing dot.
pub(crate) fn qualify(name: &str, zone: &str) -> String {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if name == "@" || name.is_empty() {
        zone.to_string()
    } else if name == zone || name.ends_with(&format!(".{zone}")) {
        name
    } else {
        format!("{name}.{zone}")
    }
}

fn proxiable(record_type: &str) -> bool {
    matches!(record_type, "A" | "AAAA" | "CNAME")
}

pub(crate) fn record_json(row: &Row, zone_id: &str, zone_name: &str) -> Value {
    let mut record = json!({
        "id": row.id,
        "zone_id": zone_id,
        "zone_name": zone_name,
        "name": row.name,
        "type": row.record_type,
        "content": row.content,
        "proxiable": proxiable(&row.record_type),
        "proxied": row.proxied,
        "ttl": row.ttl,
        "tags": row.tags,
        "meta": {"auto_added": false, "source": "primary"},
        "created_on": row.created_on,
        "modified_on": row.modified_on,
    });
    // The live API sends `"comment": null`; the schema types the comment as a plain string,
    // so the fake leaves it out and its answers validate against the spec.
    if let (Some(comment), Some(map)) = (&row.comment, record.as_object_mut()) {
        map.insert("comment".into(), Value::String(comment.clone()));
    }
    record
}

/// The fields of a record a write sets.
struct Fields {
    name: String,
    record_type: String,
    content: String,
    ttl: u32,
    proxied: bool,
    comment: Option<String>,
    tags: Vec<String>,
}

fn invalid(message: impl Into<String>) -> Reply {
    Reply::error(
        400,
        codes::VALIDATION,
        format!("DNS Validation Error: {}", message.into()),
    )
}

fn text_field(body: &Map<String, Value>, key: &str) -> Result<Option<String>, Reply> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(format!("{key} must be a string"))),
    }
}

/// Builds the fields of a create (`base` = None), a PATCH (`base` = the record, fields
/// absent from the body kept) or a PUT (`base` = None: the body is the whole record).
fn fields(body: &Map<String, Value>, base: Option<&Row>, zone: &str) -> Result<Fields, Reply> {
    let record_type = match (text_field(body, "type")?, base) {
        (Some(t), _) => t.to_ascii_uppercase(),
        (None, Some(row)) => row.record_type.clone(),
        (None, None) => return Err(invalid("type is required")),
    };
    let name = match (text_field(body, "name")?, base) {
        (Some(n), _) => qualify(&n, zone),
        (None, Some(row)) => row.name.clone(),
        (None, None) => return Err(invalid("name is required")),
    };
    if name.len() > 255 {
        return Err(invalid("name is longer than 255 characters"));
    }
    let content = match (text_field(body, "content")?, base) {
        (Some(c), _) => c,
        (None, Some(row)) => row.content.clone(),
        (None, None) => return Err(invalid("content is required")),
    };
    let content = match record_type.as_str() {
        "A" => content
            .parse::<Ipv4Addr>()
            .map_err(|_| invalid(format!("{content:?} is not a valid IPv4 address")))?
            .to_string(),
        "AAAA" => content
            .parse::<Ipv6Addr>()
            .map_err(|_| invalid(format!("{content:?} is not a valid IPv6 address")))?
            .to_string(),
        "CNAME" | "TXT" | "NS" | "PTR" | "MX" => content,
        other => {
            return Err(invalid(format!(
                "the fake does not support {other} records"
            )))
        }
    };
    let proxied = match body.get("proxied") {
        None | Some(Value::Null) => base.is_some_and(|r| r.proxied),
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid("proxied must be a boolean")),
    };
    if proxied && !proxiable(&record_type) {
        return Err(Reply::error(
            400,
            codes::NOT_PROXIABLE,
            "This record type cannot be proxied.",
        ));
    }
    let ttl = match body.get("ttl") {
        None | Some(Value::Null) => base.map_or(1, |r| r.ttl),
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                    .map(|f| f as u64)
            })
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| invalid("ttl must be a whole number"))?,
        Some(_) => return Err(invalid("ttl must be a number")),
    };
    if !(ttl == 1 || (30..=86_400).contains(&ttl)) {
        return Err(Reply::error(
            400,
            codes::INVALID_TTL,
            "Invalid TTL. Must be between 30 and 86400 seconds, or 1 for Automatic.",
        ));
    }
    // Proxied records are always served with an automatic TTL.
    let ttl = if proxied { 1 } else { ttl };
    let comment = match (body.contains_key("comment"), base) {
        (true, _) => text_field(body, "comment")?.filter(|c| !c.is_empty()),
        (false, Some(row)) => row.comment.clone(),
        (false, None) => None,
    };
    if comment
        .as_ref()
        .is_some_and(|c| c.chars().count() > MAX_COMMENT)
    {
        return Err(invalid(format!(
            "comment is longer than {MAX_COMMENT} characters"
        )));
    }
    let tags = match body.get("tags") {
        None | Some(Value::Null) => base.map(|r| r.tags.clone()).unwrap_or_default(),
        Some(Value::Array(items)) => {
            let mut tags = Vec::new();
            for item in items {
                match item.as_str() {
                    Some(t) if t.split_once(':').is_some_and(|(n, _)| !n.is_empty()) => {
                        tags.push(t.to_string());
                    }
                    _ => return Err(invalid("tags must be strings of the form name:value")),
                }
            }
            tags
        }
        Some(_) => return Err(invalid("tags must be an array")),
    };
    Ok(Fields {
        name,
        record_type,
        content,
        ttl,
        proxied,
        comment,
        tags,
    })
}

impl Zone {
    pub(crate) fn list(&self, zone_id: &str, query: &[(String, String)]) -> Reply {
        let q = match ListQuery::parse(query) {
            Ok(q) => q,
            Err(message) => return invalid(message),
        };
        let mut rows: Vec<&Row> = self.records.values().filter(|r| q.matches(r)).collect();
        rows.sort_by(|a, b| q.compare(a, b));
        let total = rows.len() as u64;
        let start = (q.page - 1).saturating_mul(q.per_page);
        let page: Vec<Value> = rows
            .into_iter()
            .skip(usize::try_from(start).unwrap_or(usize::MAX))
            .take(usize::try_from(q.per_page).unwrap_or(usize::MAX))
            .map(|r| record_json(r, zone_id, &self.name))
            .collect();
        let mut reply = Reply::ok(json!([]));
        reply.body = json!({
            "success": true,
            "errors": [],
            "messages": [],
            "result_info": {
                "page": q.page,
                "per_page": q.per_page,
                "count": page.len(),
                "total_count": total,
                "total_pages": total.div_ceil(q.per_page).max(1),
            },
            "result": page,
        });
        reply
    }

    /// The rules the live API enforces between records at one name: no two identical
    /// records (type, name, content), and no A/AAAA beside a CNAME or a CNAME beside
    /// anything of those types.
    fn clash(&self, f: &Fields, except: Option<&str>, duplicate_code: u32) -> Option<Reply> {
        let others = self
            .records
            .values()
            .filter(|r| Some(r.id.as_str()) != except && r.name == f.name);
        for other in others {
            if other.record_type == f.record_type && other.content.eq_ignore_ascii_case(&f.content)
            {
                return Some(Reply::error(
                    400,
                    duplicate_code,
                    "An identical record already exists.",
                ));
            }
            let address = |t: &str| matches!(t, "A" | "AAAA" | "CNAME");
            let cname_involved = f.record_type == "CNAME" || other.record_type == "CNAME";
            if cname_involved && address(&f.record_type) && address(&other.record_type) {
                return Some(Reply::error(
                    400,
                    codes::HOST_TAKEN,
                    "An A, AAAA, or CNAME record with that host already exists.",
                ));
            }
        }
        None
    }

    pub(crate) fn create(
        &mut self,
        zone_id: &str,
        body: &Map<String, Value>,
        seq: u64,
        duplicate_code: u32,
    ) -> Reply {
        let f = match fields(body, None, &self.name) {
            Ok(f) => f,
            Err(reply) => return reply,
        };
        if let Some(reply) = self.clash(&f, None, duplicate_code) {
            return reply;
        }
        let now = now_rfc3339();
        let row = Row {
            seq,
            id: new_id(),
            name: f.name,
            record_type: f.record_type,
            content: f.content,
            ttl: f.ttl,
            proxied: f.proxied,
            comment: f.comment,
            tags: f.tags,
            created_on: now.clone(),
            modified_on: now,
        };
        let reply = Reply::ok(record_json(&row, zone_id, &self.name));
        self.records.insert(row.id.clone(), row);
        reply
    }

    pub(crate) fn update(
        &mut self,
        zone_id: &str,
        id: &str,
        body: &Map<String, Value>,
        replace: bool,
        duplicate_code: u32,
    ) -> Reply {
        let Some(existing) = self.records.get(id).cloned() else {
            return not_found();
        };
        let base = (!replace).then_some(&existing);
        let f = match fields(body, base, &self.name) {
            Ok(f) => f,
            Err(reply) => return reply,
        };
        if let Some(reply) = self.clash(&f, Some(id), duplicate_code) {
            return reply;
        }
        let row = Row {
            name: f.name,
            record_type: f.record_type,
            content: f.content,
            ttl: f.ttl,
            proxied: f.proxied,
            comment: f.comment,
            tags: f.tags,
            modified_on: now_rfc3339(),
            ..existing
        };
        let reply = Reply::ok(record_json(&row, zone_id, &self.name));
        self.records.insert(row.id.clone(), row);
        reply
    }
}
