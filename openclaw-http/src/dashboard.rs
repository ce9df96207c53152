//! The dashboard: one page for operators (an API key) and for customers (signed in with
//! Firebase), three files embedded in the binary when it is built (`openclaw-http/dashboard/`:
//! no second server, no Node toolchain, nothing fetched from a CDN), served at `/dashboard/`.
//!
//! The page talks to the same API as every other client, with the same bearer token in
//! `Authorization` (see `docs/dashboard.md` for why no cookie). Each of its responses carries a
//! strict Content-Security-Policy: scripts and styles from this server only, connections to
//! this server and to Firebase Auth's sign-in service only, no framing.
//!
//! `OPENCLAW_DASHBOARD_DIR`, when set, makes the server read the three files from that folder
//! on every request instead: for working on the page without rebuilding the binary.

use std::borrow::Cow;

use axum::extract::State;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::state::AppState;

/// Where the page is served.
pub const PATH: &str = "/dashboard/";

/// A file of the page: its name, its type, and the copy built into the binary.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    embedded: &'static str,
}

const INDEX: Asset = Asset {
    name: "index.html",
    content_type: "text/html; charset=utf-8",
    embedded: include_str!("../dashboard/index.html"),
};
const SCRIPT: Asset = Asset {
    name: "app.js",
    content_type: "text/javascript; charset=utf-8",
    embedded: include_str!("../dashboard/app.js"),
};
const STYLE: Asset = Asset {
    name: "style.css",
    content_type: "text/css; charset=utf-8",
    embedded: include_str!("../dashboard/style.css"),
};

/// What the page is told about this server: nothing secret (Firebase's Web API key names a
/// project and grants nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PageConfig {
    /// This server's version.
    pub version: String,
    /// The deployment's name.
    pub deployment: String,
    /// Customer sign-in, when `firebase.project_id` and `firebase.api_key` are set.
    pub firebase: Option<FirebasePage>,
}

/// What the page needs to sign a customer in with Firebase Auth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FirebasePage {
    /// The Firebase project.
    pub project_id: String,
    /// The project's Web API key.
    pub api_key: String,
    /// Firebase Auth's Identity Toolkit (`firebase.auth_url`).
    pub auth_url: String,
}

impl PageConfig {
    /// The page's configuration for a server started with `config`.
    pub fn of(config: &crate::config::Config) -> Self {
        let firebase = match (&config.firebase.project_id, &config.firebase.api_key) {
            (Some(project_id), Some(api_key)) => Some(FirebasePage {
                project_id: project_id.clone(),
                api_key: api_key.clone(),
                auth_url: config.firebase.auth_url.trim_end_matches('/').to_string(),
            }),
            _ => None,
        };
        PageConfig {
            version: env!("CARGO_PKG_VERSION").to_string(),
            deployment: config.engine.deployment.as_str().to_string(),
            firebase,
        }
    }

    /// The page's Content-Security-Policy: this server only, plus Firebase Auth's origin
    /// for the customers' sign-in.
    pub fn content_security_policy(&self) -> String {
        let auth = self
            .firebase
            .as_ref()
            .and_then(|f| origin(&f.auth_url))
            .map(|o| format!(" {o}"))
            .unwrap_or_default();
        format!(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'{auth}; frame-ancestors 'none'; base-uri 'none'; \
             form-action 'self'; object-src 'none'"
        )
    }
}

/// `scheme://host[:port]` of an http(s) URL; `None` for anything else.
fn origin(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let host = &rest[..host_end];
    let ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c));
    ok.then(|| &url[..url.len() - rest.len() + host_end])
}

/// The page's routes (outside the API: no key needed to load the page itself).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(to_dashboard))
        .route("/dashboard", get(to_dashboard))
        .route("/dashboard/", get(index))
        .route("/dashboard/index.html", get(index))
        .route("/dashboard/app.js", get(script))
        .route("/dashboard/style.css", get(style))
        .route("/dashboard/config.json", get(page_config))
}

async fn to_dashboard() -> Redirect {
    Redirect::to(PATH)
}

async fn index(State(state): State<AppState>) -> Response {
    serve(&INDEX, &state)
}

async fn script(State(state): State<AppState>) -> Response {
    serve(&SCRIPT, &state)
}

async fn style(State(state): State<AppState>) -> Response {
    serve(&STYLE, &state)
}

async fn page_config(State(state): State<AppState>) -> Response {
    with_page_headers(
        Json(state.dashboard.as_ref().clone()).into_response(),
        &state,
    )
}

fn serve(asset: &Asset, state: &AppState) -> Response {
    let body: Cow<'static, str> = match std::env::var_os("OPENCLAW_DASHBOARD_DIR") {
        Some(dir) => match std::fs::read_to_string(std::path::Path::new(&dir).join(asset.name)) {
            Ok(text) => Cow::Owned(text),
            Err(error) => {
                tracing::warn!(%error, file = asset.name, "OPENCLAW_DASHBOARD_DIR: cannot read the page's file");
                return StatusCode::NOT_FOUND.into_response();
            }
        },
        None => Cow::Borrowed(asset.embedded),
    };
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    with_page_headers(response, state)
}

fn with_page_headers(mut response: Response, state: &AppState) -> Response {
    let headers = response.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&state.dashboard.content_security_policy()) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    // A new binary serves a new page at once: the browser revalidates every time.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_and_host() {
        assert_eq!(
            origin("https://identitytoolkit.googleapis.com"),
            Some("https://identitytoolkit.googleapis.com")
        );
        assert_eq!(
            origin("http://127.0.0.1:9099/identitytoolkit.googleapis.com"),
            Some("http://127.0.0.1:9099")
        );
        assert_eq!(origin("ftp://x"), None);
        assert_eq!(origin("https://a b/"), None);
        assert_eq!(origin("https:///x"), None);
    }

    #[test]
    fn the_policy_names_firebase_only_when_sign_in_is_on() {
        let mut page = PageConfig::default();
        assert!(page
            .content_security_policy()
            .contains("connect-src 'self';"));
        page.firebase = Some(FirebasePage {
            project_id: "p-123456".into(),
            api_key: "k".into(),
            auth_url: "https://identitytoolkit.googleapis.com".into(),
        });
        assert!(page
            .content_security_policy()
            .contains("connect-src 'self' https://identitytoolkit.googleapis.com;"));
    }

    #[test]
    fn the_embedded_page_loads_its_own_files_only() {
        assert!(INDEX.embedded.contains("app.js"));
        assert!(INDEX.embedded.contains("style.css"));
        for outside in ["src=\"http", "href=\"http", "src=\"//", "href=\"//"] {
            assert!(
                !INDEX.embedded.contains(outside),
                "the page loads nothing from elsewhere"
            );
        }
        assert!(!STYLE.embedded.contains("url(http") && !STYLE.embedded.contains("@import"));
        assert!(!SCRIPT.embedded.contains("import(\"http"));
    }
}
