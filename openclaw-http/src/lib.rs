//! # openclaw-http
//!
//! The `openclaw` binary and the axum router it serves: the HTTP API billing (WHMCS) calls to
//! create, suspend, unsuspend and terminate OpenClaw instances, live events over
//! Server-Sent Events and WebSocket, the single-use bootstrap endpoint new servers fetch
//! their secrets from, Prometheus metrics and an OpenAPI 3.1 document.
//!
//! - [`routes::app`] builds the `Router` from an [`AppState`] (the
//!   [`Provisioner`](openclaw_core::Provisioner) and the ports behind `Arc<dyn …>`), so it can
//!   be driven in tests with `tower::ServiceExt::oneshot`, without a socket.
//! - [`config`] reads `openclaw.toml` and `OPENCLAW_*` variables; [`deployment`] turns them
//!   into a running deployment: the sandbox (fake Hetzner and Cloudflare on loopback, fake
//!   machines that bootstrap and answer health) or live providers.
//! - [`auth`] (bearer keys `ock_<id>.<secret>`, hashed, scoped, optionally bound to a
//!   customer), [`rate_limit`] (per key), [`idempotency`] (`Idempotency-Key`) and [`error`]
//!   (one JSON error shape, never a 500 for bad input) are the request pipeline.
//! - [`cli`] is the command line: `serve`, `migrate`, `sweep`, `keys`, `config check`, and
//!   `instances …` as a client of a running server.
//!
//! ```
//! use std::sync::Arc;
//!
//! use axum::body::Body;
//! use axum::http::{Request, StatusCode};
//! use openclaw_core::domain::DeploymentName;
//! use openclaw_core::memory::{InMemoryCompute, InMemoryDns, InMemoryHealth, InMemoryStore};
//! use openclaw_core::{EngineConfig, Provisioner};
//! use openclaw_http::{routes, AppState};
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let owner = DeploymentName::parse("demo")?;
//! let store = InMemoryStore::new();
//! let compute = InMemoryCompute::new(owner.clone());
//! let provisioner = Provisioner::builder()
//!     .compute(Arc::new(compute.clone()))
//!     .dns(Arc::new(InMemoryDns::new(owner.clone(), "claw.example.com")))
//!     .health(Arc::new(InMemoryHealth::following(compute)))
//!     .store(Arc::new(store.clone()))
//!     .config(EngineConfig::new(owner, "claw.example.com"))
//!     .build()?;
//! let app = routes::app(AppState::new(provisioner, Arc::new(store)));
//!
//! let response = app
//!     .oneshot(Request::get("/v1/instances").body(Body::empty())?)
//!     .await?;
//! assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
//! # Ok(())
//! # }
//! ```

pub mod auth;
pub mod auth_failures;
pub mod backup_store;
pub mod cli;
pub mod config;
pub mod customer_view;
pub mod dashboard;
pub mod database_mode;
pub mod deployment;
pub mod error;
pub mod extract;
pub mod firebase;
pub mod health;
pub mod idempotency;
pub mod metrics;
pub mod model;
pub mod openapi;
pub mod providers;
pub mod rate_limit;
pub mod redis;
pub mod revocation;
pub mod routes;
pub mod secrets_file;
pub mod server;
pub mod state;
pub mod store;
pub mod stream_limit;

pub use error::{AppError, AppResult};
pub use state::AppState;
