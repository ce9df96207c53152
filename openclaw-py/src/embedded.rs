//! The provisioner embedded in the Python process: the deployment `openclaw serve` would
//! assemble from the same configuration (the sandbox's fake Hetzner and Cloudflare behind the
//! real adapters, or the real providers), with the bootstrap and agent endpoints served on
//! loopback (sandbox) or on `listen` (live) — new servers fetch their secrets there.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use openclaw_core::domain::{CreateInstance, InstanceFilter, InstanceId, RollbackLevel};
use openclaw_core::engine::{Provisioner, SweepMode};
use openclaw_core::{Error, SecretString};
use openclaw_http::config::Config;
use openclaw_http::deployment::{self, Deployment};
use openclaw_http::model::{EventView, InstanceView, SweepView};
use openclaw_http::state::AppState;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::errors::{Failure, Outcome};

/// A running embedded provisioner.
pub(crate) struct Embedded {
    provisioner: Provisioner,
    /// Where its API listens (bootstrap, agents).
    pub(crate) url: String,
    stop_server: watch::Sender<bool>,
    stop_workers: Mutex<Option<watch::Sender<bool>>>,
    workers: Mutex<Option<JoinHandle<openclaw_core::Result<()>>>>,
    server: Mutex<Option<JoinHandle<()>>>,
    /// Keeps the sandbox's fakes running.
    deployment: Mutex<Option<Deployment>>,
    /// Set by `close`: everything after it is refused.
    closed: AtomicBool,
}

impl std::fmt::Debug for Embedded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedded")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

fn id(text: &str) -> Outcome<InstanceId> {
    text.parse::<InstanceId>()
        .map_err(|_| Failure::Core(Error::invalid("id", "is not an instance id (a UUID)")))
}

async fn raised(mut rx: watch::Receiver<bool>) {
    while !*rx.borrow_and_update() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

impl Embedded {
    /// Assembles and starts the deployment `config` describes.
    pub(crate) async fn start(config: Config) -> Outcome<Embedded> {
        config.resolve()?;
        let addr = config.listen_addr()?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| Error::invalid("listen", format!("cannot listen on {addr}: {e}")))?;
        let local: SocketAddr = listener
            .local_addr()
            .map_err(|e| Error::internal(format!("no local address: {e}")))?;
        let deployment = deployment::assemble(&config, local).await?;
        let (stop_server, rx) = watch::channel(false);
        let state = AppState::with_config(
            deployment.provisioner.clone(),
            deployment.stores.keys.clone(),
            deployment.metrics.clone(),
            &config.http,
        )
        .with_shutdown(rx.clone());
        let app = openclaw_http::routes::app(state);
        let server = tokio::spawn(async move {
            let served = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(raised(rx))
            .await;
            if let Err(error) = served {
                tracing::warn!(%error, "the embedded API server stopped");
            }
        });
        Ok(Embedded {
            provisioner: deployment.provisioner.clone(),
            url: deployment::local_url(local),
            stop_server,
            stop_workers: Mutex::new(None),
            workers: Mutex::new(None),
            server: Mutex::new(Some(server)),
            deployment: Mutex::new(Some(deployment)),
            closed: AtomicBool::new(false),
        })
    }

    /// `Unavailable` once closed.
    fn open(&self) -> Outcome<&Provisioner> {
        if self.closed.load(Ordering::SeqCst) {
            Err(
                Error::unavailable("provisioner", "this provisioner is closed; make a new one")
                    .into(),
            )
        } else {
            Ok(&self.provisioner)
        }
    }

    /// Accepts an order.
    pub(crate) async fn create(&self, order: CreateInstance) -> Outcome<InstanceView> {
        Ok(InstanceView::from(&self.open()?.create(order).await?))
    }

    /// One instance.
    pub(crate) async fn get(&self, text: &str) -> Outcome<InstanceView> {
        Ok(InstanceView::from(&self.open()?.get(id(text)?).await?))
    }

    /// Every instance matching, oldest first (all pages).
    pub(crate) async fn list(&self, mut filter: InstanceFilter) -> Outcome<Vec<InstanceView>> {
        filter.limit = Some(InstanceFilter::MAX_LIMIT);
        let mut all = Vec::new();
        loop {
            let page = self.open()?.list(&filter).await?;
            all.extend(page.items.iter().map(InstanceView::from));
            match page.next {
                Some(next) => filter.after = Some(next),
                None => return Ok(all),
            }
        }
    }

    /// Runs one of the instance operations.
    pub(crate) async fn operate(&self, operation: Operation) -> Outcome<InstanceView> {
        let p = self.open()?;
        let instance = match operation {
            Operation::Suspend(i) => p.suspend(id(&i)?).await?,
            Operation::Unsuspend(i) => p.unsuspend(id(&i)?).await?,
            Operation::Terminate(i) => p.terminate(id(&i)?).await?,
            Operation::Retry(i) => p.retry(id(&i)?).await?,
            Operation::Rollback(i, level) => p.rollback(id(&i)?, level).await?,
            Operation::ChangePlan(i, plan) => p.change_plan(id(&i)?, &plan).await?,
        };
        Ok(InstanceView::from(&instance))
    }

    /// An instance's events, oldest first.
    pub(crate) async fn instance_events(&self, text: &str) -> Outcome<Vec<EventView>> {
        let events = self.open()?.events(id(text)?).await?;
        Ok(events.iter().map(EventView::from).collect())
    }

    /// Finds (and with `dry_run` false deletes) orphaned provider resources.
    pub(crate) async fn sweep(&self, dry_run: bool) -> Outcome<SweepView> {
        let mode = if dry_run {
            SweepMode::DryRun
        } else {
            SweepMode::Delete
        };
        Ok(SweepView::of(&self.open()?.sweep(mode).await?, dry_run))
    }

    /// Runs every job runnable now in the calling task; how many ran.
    pub(crate) async fn run_pending_jobs(&self) -> Outcome<usize> {
        Ok(self.open()?.run_pending_jobs().await?)
    }

    /// Starts the job workers in the background (once; a second call is `Conflict`).
    pub(crate) fn run_workers(&self) -> Outcome<()> {
        let provisioner = self.open()?.clone();
        let mut workers = self.workers.lock().unwrap_or_else(PoisonError::into_inner);
        if workers.as_ref().is_some_and(|w| !w.is_finished()) {
            return Err(
                Error::conflict("the workers are already running; stop() them first").into(),
            );
        }
        let (tx, rx) = watch::channel(false);
        *workers = Some(tokio::spawn(async move {
            provisioner.run_workers(raised(rx)).await
        }));
        *self
            .stop_workers
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(tx);
        Ok(())
    }

    /// Stops the workers: each finishes its current step and hands its job back. Nothing
    /// happens when they do not run.
    pub(crate) async fn stop_workers(&self) -> Outcome<()> {
        if let Some(tx) = self
            .stop_workers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            let _ = tx.send(true);
        }
        let handle = self
            .workers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            match handle.await {
                Ok(result) => result?,
                Err(error) => {
                    return Err(Error::internal(format!("the workers panicked: {error}")).into())
                }
            }
        }
        Ok(())
    }

    /// Whether the workers run.
    pub(crate) fn workers_running(&self) -> bool {
        self.workers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_some_and(|w| !w.is_finished())
    }

    /// Stops the workers, the API server and the sandbox's fakes; everything after is
    /// refused. A second close does nothing.
    pub(crate) async fn close(&self) -> Outcome<()> {
        if self.closed.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        let stopped = self.stop_workers().await;
        let _ = self.stop_server.send(true);
        let server = self
            .server
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(server) = server {
            let _ = server.await;
        }
        drop(
            self.deployment
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        stopped
    }

    /// The provisioner (`Unavailable` once closed).
    pub(crate) fn provisioner(&self) -> Outcome<&Provisioner> {
        self.open()
    }
}

/// A provisioner dropped without `close` (its Python object collected) still stops: its
/// workers and its API server are told to, and the sandbox's fakes go with the deployment.
impl Drop for Embedded {
    fn drop(&mut self) {
        let _ = self.stop_server.send(true);
        let workers = self
            .stop_workers
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(tx) = workers {
            let _ = tx.send(true);
        }
    }
}

/// An instance operation that answers with the instance.
#[derive(Debug, Clone)]
pub(crate) enum Operation {
    Suspend(String),
    Unsuspend(String),
    Terminate(String),
    Retry(String),
    Rollback(String, RollbackLevel),
    ChangePlan(String, String),
}

/// An order from Python's arguments.
pub(crate) fn order(
    customer_id: String,
    subdomain: String,
    plan: String,
    region: String,
    external_ref: Option<String>,
    provider_keys: Vec<(String, String)>,
) -> CreateInstance {
    CreateInstance {
        customer_id,
        external_ref,
        subdomain,
        plan,
        region,
        provider_keys: provider_keys
            .into_iter()
            .map(|(k, v)| (k, SecretString::new(v)))
            .collect(),
    }
}
