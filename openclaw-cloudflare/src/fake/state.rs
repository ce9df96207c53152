//! What the fake holds (zones, counters, faults, captured requests) and how a request goes
//! through it — routing, authentication, the rate limit ([`limits`](super::limits)), the
//! fault queue, then the operation on its zone ([`zone`](super::zone)) — independent of
//! HTTP plumbing.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::time::Instant;

use super::limits::Windows;
use super::zone::{new_id, not_found, now_rfc3339, parse_body, qualify, record_json, Row, Zone};
use super::{CapturedRequest, FakeRecord, Fault, RateLimitSettings, Route};

/// How many requests the fake remembers for [`captured`](super::FakeCloudflare::captured);
/// the oldest go first, so a long-running sandbox does not grow without bound.
const CAPTURE_LIMIT: usize = 10_000;

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
    pub(crate) fn ok(result: Value) -> Reply {
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
    windows: Windows,
    pub(crate) duplicate_code: u32,
    pub(crate) captured: VecDeque<CapturedRequest>,
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
            windows: Windows::default(),
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
        let rate_headers = match self.windows.spend(&token, now, self.limits) {
            Ok(headers) => headers,
            Err(refused) => {
                self.rate_limited += 1;
                return Err(refused);
            }
        };
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
}
