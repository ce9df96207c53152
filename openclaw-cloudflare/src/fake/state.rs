//! What the fake holds (zones, records, counters, faults, rate-limit windows) and the
//! behaviour of each operation, independent of HTTP plumbing.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use serde_json::{json, Map, Value};
use tokio::time::Instant;

use super::filter::ListQuery;
use super::{CapturedRequest, FakeRecord, Fault, RateLimitSettings, Route};

/// How many requests the fake remembers for [`captured`](super::FakeCloudflare::captured);
/// the oldest go first, so a long-running sandbox does not grow without bound.
const CAPTURE_LIMIT: usize = 10_000;

/// Cloudflare's longest comment on the Free plan.
const MAX_COMMENT: usize = 100;

/// Codes the fake answers with. The rate-limit one is what the live API sends with a 429.
pub(crate) mod codes {
    pub(crate) const VALIDATION: u32 = 1004;
    pub(crate) const NO_ROUTE: u32 = 7000;
    pub(crate) const INVALID_OBJECT_IDENTIFIER: u32 = 7003;
    pub(crate) const INVALID_TTL: u32 = 9021;
    pub(crate) const NOT_PROXIABLE: u32 = 9004;
    pub(crate) const MISSING_AUTH: u32 = 9106;
    pub(crate) const AUTHENTICATION: u32 = 10000;
    pub(crate) const INVALID_BODY: u32 = 9207;
    pub(crate) const RATE_LIMITED: u32 = 971;
    pub(crate) const RECORD_NOT_FOUND: u32 = 81044;
    pub(crate) const HOST_TAKEN: u32 = 81053;
    pub(crate) const IDENTICAL_RECORD: u32 = 81058;
}

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
    fn to_public(&self, zone_id: &str) -> FakeRecord {
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
struct Zone {
    name: String,
    records: BTreeMap<String, Row>,
}

#[derive(Debug)]
struct Window {
    start: Instant,
    used: u32,
    blocked_until: Option<Instant>,
}

/// A parsed request, as the state sees it.
#[derive(Debug, Clone)]
pub(crate) struct Incoming {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) authorization: Option<String>,
    pub(crate) body: Vec<u8>,
}

/// What to answer.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Value,
}

impl Reply {
    fn ok(result: Value) -> Reply {
        Reply {
            status: 200,
            headers: Vec::new(),
            body: json!({"success": true, "errors": [], "messages": [], "result": result}),
        }
    }

    pub(crate) fn error(status: u16, code: u32, message: impl Into<String>) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: json!({
                "success": false,
                "errors": [{"code": code, "message": message.into()}],
                "messages": [],
                "result": null,
            }),
        }
    }
}

/// A request that passed routing, authentication and the rate limit.
#[derive(Debug)]
pub(crate) struct Admitted {
    pub(crate) route: Route,
    pub(crate) zone_id: String,
    pub(crate) record_id: Option<String>,
    pub(crate) fault: Option<Fault>,
    pub(crate) latency: Duration,
    pub(crate) rate_headers: Vec<(String, String)>,
}

/// Everything the fake holds.
#[derive(Debug)]
pub(crate) struct State {
    zones: BTreeMap<String, Zone>,
    seq: u64,
    pub(crate) token: Option<String>,
    pub(crate) counters: HashMap<Route, u64>,
    pub(crate) unrouted: u64,
    pub(crate) rate_limited: u64,
    pub(crate) faults: VecDeque<(Option<Route>, Fault)>,
    pub(crate) latency: Duration,
    pub(crate) limits: RateLimitSettings,
    windows: HashMap<String, Window>,
    pub(crate) duplicate_code: u32,
    pub(crate) captured: VecDeque<CapturedRequest>,
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl State {
    pub(crate) fn new(token: Option<String>, limits: RateLimitSettings) -> State {
        State {
            zones: BTreeMap::new(),
            seq: 0,
            token,
            counters: HashMap::new(),
            unrouted: 0,
            rate_limited: 0,
            faults: VecDeque::new(),
            latency: Duration::ZERO,
            limits,
            windows: HashMap::new(),
            duplicate_code: codes::IDENTICAL_RECORD,
            captured: VecDeque::new(),
        }
    }

    pub(crate) fn create_zone(&mut self, name: &str) -> String {
        let id = new_id();
        self.zones.insert(
            id.clone(),
            Zone {
                name: name.trim_end_matches('.').to_ascii_lowercase(),
                records: BTreeMap::new(),
            },
        );
        id
    }

    pub(crate) fn insert(&mut self, zone_id: &str, record: &FakeRecord) -> Option<FakeRecord> {
        self.seq += 1;
        let seq = self.seq;
        let zone = self.zones.get_mut(zone_id)?;
        let now = now_rfc3339();
        let row = Row {
            seq,
            id: if record.id.is_empty() {
                new_id()
            } else {
                record.id.clone()
            },
            name: qualify(&record.name, &zone.name),
            record_type: record.record_type.to_ascii_uppercase(),
            content: record.content.clone(),
            ttl: record.ttl,
            proxied: record.proxied,
            comment: record.comment.clone(),
            tags: record.tags.clone(),
            created_on: now.clone(),
            modified_on: now,
        };
        let public = row.to_public(zone_id);
        zone.records.insert(row.id.clone(), row);
        Some(public)
    }

    pub(crate) fn records(&self, zone_id: &str) -> Vec<FakeRecord> {
        let Some(zone) = self.zones.get(zone_id) else {
            return Vec::new();
        };
        let mut rows: Vec<&Row> = zone.records.values().collect();
        rows.sort_by_key(|r| r.seq);
        rows.into_iter().map(|r| r.to_public(zone_id)).collect()
    }

    pub(crate) fn capture(&mut self, request: CapturedRequest) {
        if self.captured.len() >= CAPTURE_LIMIT {
            self.captured.pop_front();
        }
        self.captured.push_back(request);
    }

    /// Routing, authentication, the rate limit and the fault queue, in that order.
    pub(crate) fn admit(&mut self, req: &Incoming, now: Instant) -> Result<Admitted, Reply> {
        let Some((route, zone_id, record_id)) = route(&req.method, &req.path) else {
            self.unrouted += 1;
            return Err(Reply::error(404, codes::NO_ROUTE, "No route for that URI"));
        };
        *self.counters.entry(route).or_default() += 1;
        let token = match req
            .authorization
            .as_deref()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
        {
            Some(t) if !t.is_empty() => t.to_string(),
            _ => {
                return Err(Reply::error(
                    400,
                    codes::MISSING_AUTH,
                    "Missing X-Auth-Key, X-Auth-Email or Authorization headers",
                ))
            }
        };
        if self.token.as_deref().is_some_and(|wanted| wanted != token) {
            return Err(Reply::error(
                403,
                codes::AUTHENTICATION,
                "Authentication error",
            ));
        }
        let rate_headers = self.spend(&token, now)?;
        let fault = self
            .faults
            .iter()
            .position(|(r, _)| r.is_none_or(|r| r == route))
            .and_then(|i| self.faults.remove(i))
            .map(|(_, f)| f);
        Ok(Admitted {
            route,
            zone_id,
            record_id,
            fault,
            latency: self.latency,
            rate_headers,
        })
    }

    /// Counts one request against the token's window. Past the limit the token is blocked
    /// for the whole block time, as Cloudflare blocks for five minutes; requests during the
    /// block are refused and do not count.
    fn spend(&mut self, token: &str, now: Instant) -> Result<Vec<(String, String)>, Reply> {
        let limits = self.limits;
        let window = self.windows.entry(token.to_string()).or_insert(Window {
            start: now,
            used: 0,
            blocked_until: None,
        });
        let policy = format!(
            "\"default\";q={};w={}",
            limits.limit,
            ceil_secs(limits.window)
        );
        let refuse = |retry: u64| {
            let mut reply = Reply::error(
                429,
                codes::RATE_LIMITED,
                "Please wait and consider throttling your request speed",
            );
            reply.headers = vec![
                ("retry-after".into(), retry.to_string()),
                ("ratelimit".into(), format!("\"default\";r=0;t={retry}")),
                ("ratelimit-policy".into(), policy.clone()),
            ];
            reply
        };
        if let Some(until) = window.blocked_until {
            if now < until {
                self.rate_limited += 1;
                return Err(refuse(ceil_secs(until - now).max(1)));
            }
            window.blocked_until = None;
            window.start = now;
            window.used = 0;
        }
        if now.duration_since(window.start) >= limits.window {
            window.start = now;
            window.used = 0;
        }
        if window.used >= limits.limit {
            window.blocked_until = Some(now + limits.block);
            self.rate_limited += 1;
            return Err(refuse(ceil_secs(limits.block).max(1)));
        }
        window.used += 1;
        let reset = ceil_secs(
            limits
                .window
                .saturating_sub(now.duration_since(window.start)),
        );
        Ok(vec![
            (
                "ratelimit".into(),
                format!("\"default\";r={};t={reset}", limits.limit - window.used),
            ),
            ("ratelimit-policy".into(), policy),
        ])
    }

    /// Carries out an admitted request.
    pub(crate) fn execute(&mut self, req: &Incoming, admitted: &Admitted) -> Reply {
        let duplicate_code = self.duplicate_code;
        self.seq += 1;
        let seq = self.seq;
        let Some(zone) = self.zones.get_mut(&admitted.zone_id) else {
            return Reply::error(
                404,
                codes::INVALID_OBJECT_IDENTIFIER,
                format!(
                    "Could not route to /zones/{}/dns_records, perhaps your object identifier is invalid?",
                    admitted.zone_id
                ),
            );
        };
        let zone_id = admitted.zone_id.as_str();
        match admitted.route {
            Route::ListRecords => zone.list(zone_id, &req.query),
            Route::CreateRecord => match parse_body(&req.body) {
                Ok(body) => zone.create(zone_id, &body, seq, duplicate_code),
                Err(reply) => reply,
            },
            Route::GetRecord => match zone
                .records
                .get(admitted.record_id.as_deref().unwrap_or(""))
            {
                Some(row) => Reply::ok(record_json(row, zone_id, &zone.name)),
                None => not_found(),
            },
            Route::PatchRecord | Route::PutRecord => match parse_body(&req.body) {
                Ok(body) => zone.update(
                    zone_id,
                    admitted.record_id.as_deref().unwrap_or(""),
                    &body,
                    admitted.route == Route::PutRecord,
                    duplicate_code,
                ),
                Err(reply) => reply,
            },
            Route::DeleteRecord => {
                let id = admitted.record_id.clone().unwrap_or_default();
                match zone.records.remove(&id) {
                    Some(_) => Reply::ok(json!({ "id": id })),
                    None => not_found(),
                }
            }
        }
    }
}

fn not_found() -> Reply {
    Reply::error(404, codes::RECORD_NOT_FOUND, "Record does not exist.")
}

/// `(route, zone id, record id)` of a path under `/client/v4`.
fn route(method: &str, path: &str) -> Option<(Route, String, Option<String>)> {
    let rest = path.strip_prefix("/client/v4/zones/")?;
    let segments: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    match segments.as_slice() {
        [zone, "dns_records"] => {
            let route = match method {
                "GET" => Route::ListRecords,
                "POST" => Route::CreateRecord,
                _ => return None,
            };
            Some((route, (*zone).to_string(), None))
        }
        [zone, "dns_records", id] => {
            let route = match method {
                "GET" => Route::GetRecord,
                "PATCH" => Route::PatchRecord,
                "PUT" => Route::PutRecord,
                "DELETE" => Route::DeleteRecord,
                _ => return None,
            };
            Some((route, (*zone).to_string(), Some((*id).to_string())))
        }
        _ => None,
    }
}

fn parse_body(bytes: &[u8]) -> Result<Map<String, Value>, Reply> {
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
fn qualify(name: &str, zone: &str) -> String {
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
    fn list(&self, zone_id: &str, query: &[(String, String)]) -> Reply {
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

    fn create(
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

    fn update(
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

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> (State, String) {
        let mut s = State::new(None, RateLimitSettings::default());
        let zone = s.create_zone("claw.example.com");
        (s, zone)
    }

    fn request(method: &str, path: &str, body: Value) -> Incoming {
        Incoming {
            method: method.into(),
            path: path.into(),
            query: Vec::new(),
            authorization: Some("Bearer t".into()),
            body: serde_json::to_vec(&body).unwrap(),
        }
    }

    fn run(s: &mut State, req: &Incoming) -> Reply {
        match s.admit(req, Instant::now()) {
            Ok(admitted) => s.execute(req, &admitted),
            Err(reply) => reply,
        }
    }

    #[test]
    fn names_are_qualified_and_duplicates_refused() {
        let (mut s, zone) = state();
        let path = format!("/client/v4/zones/{zone}/dns_records");
        let body = json!({"type":"A","name":"www","content":"192.0.2.1","ttl":120});
        let created = run(&mut s, &request("POST", &path, body.clone()));
        assert_eq!(created.status, 200, "{:?}", created.body);
        assert_eq!(created.body["result"]["name"], "www.claw.example.com");
        let again = run(&mut s, &request("POST", &path, body));
        assert_eq!(again.status, 400);
        assert_eq!(again.body["errors"][0]["code"], 81058);
        let cname = json!({"type":"CNAME","name":"www.claw.example.com","content":"x.example.net"});
        let clash = run(&mut s, &request("POST", &path, cname));
        assert_eq!(clash.body["errors"][0]["code"], 81053);
    }

    #[test]
    fn proxied_records_get_automatic_ttl() {
        let (mut s, zone) = state();
        let path = format!("/client/v4/zones/{zone}/dns_records");
        let body = json!({"type":"A","name":"p","content":"192.0.2.1","ttl":300,"proxied":true});
        let created = run(&mut s, &request("POST", &path, body));
        assert_eq!(created.body["result"]["ttl"], 1);
    }

    #[test]
    fn missing_token_and_unknown_zone() {
        let (mut s, _) = state();
        let mut req = request("GET", "/client/v4/zones/nope/dns_records", Value::Null);
        assert_eq!(run(&mut s, &req).status, 404);
        req.authorization = None;
        let refused = run(&mut s, &req);
        assert_eq!(refused.status, 400);
        assert_eq!(refused.body["errors"][0]["code"], 9106);
    }

    #[test]
    fn a_breach_blocks_for_the_block_time() {
        let mut s = State::new(
            None,
            RateLimitSettings {
                limit: 2,
                window: Duration::from_secs(10),
                block: Duration::from_secs(60),
            },
        );
        let t0 = Instant::now();
        let mut a = || s.spend("tok", t0).map(|_| ()).map_err(|r| r.status);
        assert!(a().is_ok());
        assert!(a().is_ok());
        assert_eq!(a(), Err(429));
        // Still blocked after the window, until the block has passed.
        assert!(s.spend("tok", t0 + Duration::from_secs(30)).is_err());
        assert!(s.spend("tok", t0 + Duration::from_secs(61)).is_ok());
        assert!(s.spend("other", t0).is_ok(), "limits are per token");
    }
}
