//! The HTTP side of the fake: one handler for every path, so that every answer — a missing
//! route and a malformed query included — is a Cloudflare envelope rather than axum's own
//! rejection text.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State as AxumState};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio::time::Instant;

use super::state::{codes, Incoming, Reply};
use super::{lock, CapturedRequest, Fault, Shared};

pub(super) fn router(shared: Shared) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

async fn handle(
    AxumState(shared): AxumState<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(Query(query)) = Query::<Vec<(String, String)>>::try_from_uri(&uri) else {
        let reply = Reply::error(400, codes::VALIDATION, "Malformed query string");
        return respond(reply, Ending::Normal);
    };
    let incoming = Incoming {
        method: method.as_str().to_string(),
        path: uri.path().to_string(),
        query,
        authorization: headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body: body.to_vec(),
    };
    let admitted = lock(&shared).admit(&incoming, Instant::now());
    let (mut reply, route, fault) = match admitted {
        Err(reply) => (reply, None, None),
        Ok(admitted) => {
            let mut delay = admitted.latency;
            if let Some(Fault::Delay(extra)) = &admitted.fault {
                delay += *extra;
            }
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let mut state = lock(&shared);
            let mut reply = match &admitted.fault {
                Some(Fault::Error {
                    status,
                    code,
                    message,
                }) => Reply::error(*status, *code, message.clone()),
                Some(Fault::Raw {
                    status,
                    headers,
                    body,
                }) => Reply {
                    status: *status,
                    headers: headers.clone(),
                    body: serde_json::Value::String(body.clone()),
                },
                Some(Fault::CommitThenError { status, code }) => {
                    // The change is made; only the answer is replaced.
                    state.execute(&incoming, &admitted);
                    Reply::error(*status, *code, "injected failure after the change was made")
                }
                Some(Fault::Race(record)) => {
                    state.insert(&admitted.zone_id, record);
                    state.execute(&incoming, &admitted)
                }
                _ => state.execute(&incoming, &admitted),
            };
            if !matches!(admitted.fault, Some(Fault::Raw { .. })) {
                reply.headers.extend(admitted.rate_headers.iter().cloned());
            }
            (reply, Some(admitted.route), admitted.fault)
        }
    };
    if !reply.headers.iter().any(|(k, _)| k == "cf-ray") {
        reply.headers.push((
            "cf-ray".into(),
            format!("{}-FAKE", &uuid::Uuid::now_v7().simple().to_string()[16..]),
        ));
    }
    let captured_body = (!incoming.body.is_empty()).then(|| {
        serde_json::from_slice(&incoming.body).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(&incoming.body).into_owned())
        })
    });
    lock(&shared).capture(CapturedRequest {
        route,
        method: incoming.method.clone(),
        path: incoming.path.clone(),
        query: incoming.query.clone(),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body: captured_body,
        status: reply.status,
        response: reply.body.clone(),
    });
    let ending = match fault {
        Some(Fault::Raw { .. }) => Ending::Verbatim,
        Some(Fault::CommitThenDrop) => Ending::Drop,
        Some(Fault::CommitThenStall(d)) => Ending::Stall(d),
        _ => Ending::Normal,
    };
    if let Ending::Stall(d) = ending {
        tokio::time::sleep(d).await;
    }
    respond(reply, ending)
}

#[derive(Debug, Clone, Copy)]
enum Ending {
    Normal,
    /// The reply's body is a JSON string holding the exact bytes to send.
    Verbatim,
    Stall(Duration),
    Drop,
}

fn respond(reply: Reply, ending: Ending) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    for (name, value) in &reply.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.insert(name, value);
        }
    }
    let body = match ending {
        // A body stream that fails makes hyper abort the connection after the head: the
        // client sees its request answered, then loses the answer.
        Ending::Drop => Body::from_stream(futures_util::stream::once(async {
            Err::<Bytes, std::io::Error>(std::io::Error::other(
                "connection dropped by fault injection",
            ))
        })),
        Ending::Verbatim => Body::from(reply.body.as_str().unwrap_or_default().to_string()),
        Ending::Normal | Ending::Stall(_) => Body::from(reply.body.to_string()),
    };
    (status, headers, body).into_response()
}
