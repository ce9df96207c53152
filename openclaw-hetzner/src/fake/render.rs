//! The fake's resources in the spec's full response shapes, every required field present, so
//! that strict clients (Hetzner's own Python library among them) read them as real ones.

use chrono::SecondsFormat;
use serde_json::{json, Value};

use super::state::{FakeAction, FakeServer};

fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn location(name: &str) -> Value {
    let (id, city, zone) = match name {
        "nbg1" => (2, "Nuremberg", "eu-central"),
        "hel1" => (3, "Helsinki", "eu-central"),
        "ash" => (4, "Ashburn, VA", "us-east"),
        "hil" => (5, "Hillsboro, OR", "us-west"),
        "sin" => (6, "Singapore", "ap-southeast"),
        _ => (1, "Falkenstein", "eu-central"),
    };
    json!({
        "id": id,
        "name": name,
        "description": format!("{city} DC Park 1"),
        "city": city,
        "country": if zone == "eu-central" { "DE" } else { "US" },
        "latitude": 50.47612,
        "longitude": 12.370071,
        "network_zone": zone,
    })
}

/// A server as `GET /servers/{id}` returns it.
pub(crate) fn server(s: &FakeServer) -> Value {
    let created = time(s.created);
    let ipv4 = s.ipv4.map(|ip| {
        json!({"id": s.id * 10 + 4, "ip": ip.to_string(), "blocked": false,
               "dns_ptr": format!("static.{ip}.clients.your-server.de")})
    });
    let ipv6 = s.ipv6_network.map(|net| {
        json!({"id": s.id * 10 + 6, "ip": format!("{net}/64"), "blocked": false, "dns_ptr": []})
    });
    json!({
        "id": s.id,
        "name": s.name,
        "status": s.status,
        "created": created,
        "labels": s.labels,
        "backup_window": null,
        "datacenter": {
            "id": 1,
            "name": format!("{}-dc1", s.location),
            "description": format!("{} DC 1", s.location),
            "location": location(&s.location),
            "server_types": {"available": [1], "available_for_migration": [1], "supported": [1]},
        },
        "location": location(&s.location),
        "image": image(s, &created),
        "iso": null,
        "included_traffic": 21_990_232_555_520_u64,
        "ingoing_traffic": 0,
        "outgoing_traffic": 0,
        "load_balancers": [],
        // The delete action holds the lock until the server is gone.
        "locked": s.status == "deleting",
        "placement_group": null,
        "primary_disk_size": s.disk_gb,
        "private_net": [],
        "protection": {"delete": false, "rebuild": false},
        "public_net": {
            "ipv4": ipv4,
            "ipv6": ipv6,
            "floating_ips": [],
            "firewalls": s.firewalls.iter().map(|id| json!({"id": id, "status": "applied"})).collect::<Vec<_>>(),
        },
        "rescue_enabled": false,
        "server_type": server_type(s),
        "volumes": [],
    })
}

/// `server.image`: a system image named as asked.
fn image(s: &FakeServer, created: &str) -> Value {
    json!({
        "id": 4711,
        "type": "system",
        "status": "available",
        "name": s.image,
        "description": s.image,
        "image_size": null,
        "disk_size": 5,
        "created": created,
        "created_from": null,
        "bound_to": null,
        "os_flavor": if s.image.starts_with("debian") { "debian" } else { "ubuntu" },
        "os_version": s.image.split('-').nth(1),
        "rapid_deploy": true,
        "protection": {"delete": false},
        "deprecated": null,
        "deleted": null,
        "labels": {},
        "architecture": "x86",
    })
}

/// `server.server_type`.
fn server_type(s: &FakeServer) -> Value {
    json!({
        "id": 1,
        "name": s.server_type,
        "description": s.server_type.to_uppercase(),
        "cores": 2,
        "memory": 4.0,
        "disk": 80,
        "deprecated": false,
        "deprecation": null,
        "prices": [],
        "storage_type": "local",
        "cpu_type": "shared",
        "architecture": "x86",
        // `available` and `recommended` are newer than the spec copy; Hetzner's Python
        // client requires them.
        "locations": [{"id": 1, "name": s.location, "deprecation": null, "available": true, "recommended": true}],
    })
}

/// An action as `GET /actions/{id}` returns it.
pub(crate) fn action(a: &FakeAction) -> Value {
    json!({
        "id": a.id,
        "command": a.command,
        "status": if a.finished.is_some() { "success" } else { "running" },
        "progress": if a.finished.is_some() { 100 } else { 0 },
        "started": time(a.started),
        "finished": a.finished.map(time),
        "resources": [{"id": a.server, "type": "server"}],
        "error": null,
    })
}

/// `meta.pagination` for `page` of `per_page` out of `total` entries.
pub(crate) fn pagination(page: u64, per_page: u64, total: u64) -> Value {
    let last = total.div_ceil(per_page).max(1);
    json!({
        "pagination": {
            "page": page,
            "per_page": per_page,
            "previous_page": if page > 1 { Some(page - 1) } else { None },
            "next_page": if page < last { Some(page + 1) } else { None },
            "last_page": last,
            "total_entries": total,
        }
    })
}

/// Hetzner's error body.
pub(crate) fn error(code: &str, message: &str, details: Option<&Value>) -> Value {
    json!({"error": {"code": code, "message": message, "details": details}})
}
