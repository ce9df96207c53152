//! `openclaw._native`: the Rust half of the Python package `openclaw` (see
//! `openclaw-py/README.md`). One class, [`Native`], drives either the provisioner embedded in
//! the process or a running server; each operation comes blocking (the GIL released,
//! Ctrl-C heard) and as a coroutine (`*_async`, on the same tokio runtime through
//! pyo3-async-runtimes). Answers are the HTTP API's JSON, which the Python layer
//! (`openclaw/__init__.py`, `openclaw/aio.py`) turns into `Instance` and `Event`; errors are
//! raised as the classes of `openclaw/_errors.py`.

mod embedded;
mod errors;
mod events;
mod remote;
mod runtime;
mod target;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use openclaw_core::instance_secrets::SealingKey;
use openclaw_core::{BootstrapKey, SecretString};
use openclaw_http::config::{Config, Mode};
use pyo3::prelude::*;

use crate::embedded::Embedded;
use crate::errors::{into_py_result, Failure, Outcome};
use crate::events::Cursor;
use crate::remote::Remote;
use crate::runtime::wait;
use crate::target::Target;

/// Runs `future` blocking; its failure as the Python exception.
fn block<F, T>(py: Python<'_>, future: F) -> PyResult<T>
where
    F: std::future::Future<Output = Outcome<T>> + Send + 'static,
    T: Send + 'static,
{
    wait(py, async move { into_py_result(future.await) })
}

/// Runs `future` as a Python awaitable.
fn awaitable<'py, F, T>(py: Python<'py>, future: F) -> PyResult<Bound<'py, PyAny>>
where
    F: std::future::Future<Output = Outcome<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    pyo3_async_runtimes::tokio::future_into_py(py, async move { into_py_result(future.await) })
}

/// A configuration from `OPENCLAW_*` settings given here (the process's environment is not
/// read: a script says what it wants).
fn config_of(settings: &HashMap<&str, String>) -> Outcome<Config> {
    let mut config = Config::default();
    config.apply_env(|name| settings.get(name).cloned())?;
    Ok(config)
}

/// Starts an embedded provisioner for `config`, blocking.
fn start(py: Python<'_>, config: Config) -> PyResult<Native> {
    // The runtime's threads must exist before the first blocking wait.
    let _ = runtime::runtime();
    let embedded = block(py, async move { Embedded::start(config).await })?;
    Ok(Native {
        target: Target::Embedded(Arc::new(embedded)),
    })
}

fn secret_setting(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

/// The provisioner embedded in this process, or a client of a running server.
#[pyclass(frozen, module = "openclaw._native")]
pub struct Native {
    target: Target,
}

/// An event cursor (see `Native.events`).
#[pyclass(frozen, module = "openclaw._native")]
pub struct NativeCursor {
    cursor: Arc<tokio::sync::Mutex<Cursor>>,
}

#[pymethods]
impl Native {
    /// The sandbox: fake Hetzner and Cloudflare on loopback behind the real adapters, the
    /// store `store` (`memory`, `sqlite:///path` or `postgres://…`).
    #[staticmethod]
    #[pyo3(signature = (store, secrets_file=None, boot_delay=0.0, fake_agents=true, database_schema=None, backup_store=None))]
    fn sandbox(
        py: Python<'_>,
        store: String,
        secrets_file: Option<String>,
        boot_delay: f64,
        fake_agents: bool,
        database_schema: Option<String>,
        backup_store: Option<String>,
    ) -> PyResult<Native> {
        let mut settings: HashMap<&str, String> = HashMap::new();
        if let Some(url) = backup_store {
            settings.insert("OPENCLAW_BACKUP_STORE_URL", url);
        }
        if let Some(schema) = database_schema {
            settings.insert("OPENCLAW_DATABASE_SCHEMA", schema);
        }
        settings.insert("OPENCLAW_MODE", "sandbox".to_string());
        settings.insert("OPENCLAW_LISTEN", "127.0.0.1:0".to_string());
        settings.insert("OPENCLAW_DATABASE_URL", store.clone());
        match (secrets_file, store.as_str()) {
            (Some(file), _) => {
                settings.insert("OPENCLAW_SECRETS_FILE", file);
            }
            // Nothing outlives a memory store: its keys need not either.
            (None, "memory") => {
                settings.insert(
                    "OPENCLAW_SECRETS_FILE",
                    "/nonexistent/openclaw.secrets".into(),
                );
                settings.insert(
                    "OPENCLAW_BOOTSTRAP_KEY",
                    BootstrapKey::random().to_base64().expose().to_string(),
                );
                settings.insert(
                    "OPENCLAW_SECRETS_KEY",
                    SealingKey::random().to_base64().expose().to_string(),
                );
            }
            // Beside a SQLite database, as the binary keeps its own.
            (None, url) if url.starts_with("sqlite://") => {
                let path = url.trim_start_matches("sqlite://");
                settings.insert("OPENCLAW_SECRETS_FILE", format!("{path}.secrets"));
            }
            (None, _) => {}
        }
        if !(0.0..=60.0).contains(&boot_delay) {
            return Err(Failure::Core(openclaw_core::Error::invalid(
                "boot_delay",
                "must be 0-60 seconds",
            ))
            .into_py_err(py));
        }
        let mut config = config_of(&settings).map_err(|f| f.into_py_err(py))?;
        config.sandbox.boot_delay = Duration::from_secs_f64(boot_delay);
        config.sandbox.fake_agents = fake_agents;
        start(py, config)
    }

    /// Real Hetzner and Cloudflare. New servers fetch their secrets from
    /// `control_plane_url`, which must reach the API this serves on `listen`.
    #[staticmethod]
    #[pyo3(signature = (hetzner_token, cloudflare_token, zone_id, zone, store, control_plane_url, listen="127.0.0.1:8080".to_string(), bootstrap_key=None, secrets_key=None, secrets_file=None, deployment=None, backup_store=None))]
    #[allow(clippy::too_many_arguments)]
    fn live(
        py: Python<'_>,
        hetzner_token: String,
        cloudflare_token: String,
        zone_id: String,
        zone: String,
        store: String,
        control_plane_url: String,
        listen: String,
        bootstrap_key: Option<String>,
        secrets_key: Option<String>,
        secrets_file: Option<String>,
        deployment: Option<String>,
        backup_store: Option<String>,
    ) -> PyResult<Native> {
        let mut settings: HashMap<&str, String> = HashMap::new();
        settings.insert("OPENCLAW_MODE", "live".to_string());
        settings.insert("OPENCLAW_LISTEN", listen);
        settings.insert("OPENCLAW_DATABASE_URL", store);
        settings.insert("OPENCLAW_HETZNER_TOKEN", hetzner_token);
        settings.insert("OPENCLAW_CLOUDFLARE_API_TOKEN", cloudflare_token);
        settings.insert("OPENCLAW_CLOUDFLARE_ZONE_ID", zone_id);
        settings.insert("OPENCLAW_ZONE", zone);
        settings.insert("OPENCLAW_CONTROL_PLANE_URL", control_plane_url);
        // Live mode guards `/metrics` with a token; nothing scrapes an embedded provisioner,
        // so a random one closes it.
        settings.insert(
            "OPENCLAW_METRICS_TOKEN",
            BootstrapKey::random().to_base64().expose().to_string(),
        );
        for (name, value) in [
            ("OPENCLAW_BOOTSTRAP_KEY", secret_setting(bootstrap_key)),
            ("OPENCLAW_SECRETS_KEY", secret_setting(secrets_key)),
            ("OPENCLAW_SECRETS_FILE", secrets_file),
            ("OPENCLAW_DEPLOYMENT", deployment),
            ("OPENCLAW_BACKUP_STORE_URL", backup_store),
        ] {
            if let Some(value) = value {
                settings.insert(name, value);
            }
        }
        let config = config_of(&settings).map_err(|f| f.into_py_err(py))?;
        if config.mode != Mode::Live {
            return Err(Failure::Core(openclaw_core::Error::internal("not live")).into_py_err(py));
        }
        start(py, config)
    }

    /// A client of the server at `url`, with `api_key`.
    #[staticmethod]
    #[pyo3(signature = (url, api_key, timeout=30.0))]
    fn client(py: Python<'_>, url: &str, api_key: String, timeout: f64) -> PyResult<Native> {
        if !(timeout > 0.0 && timeout <= 3600.0) {
            return Err(Failure::Core(openclaw_core::Error::invalid(
                "timeout",
                "must be more than 0 and at most 3600 seconds",
            ))
            .into_py_err(py));
        }
        let key = SecretString::new(api_key);
        // reqwest's client wants a runtime's context for its connection pool's timers.
        let _guard = runtime::runtime().enter();
        let remote = Remote::new(url, &key, Duration::from_secs_f64(timeout))
            .map_err(|f| f.into_py_err(py))?;
        Ok(Native {
            target: Target::Remote(Arc::new(remote)),
        })
    }

    /// Where the embedded provisioner's API listens (`None` for a client).
    #[getter]
    fn api_url(&self) -> Option<String> {
        match &self.target {
            Target::Embedded(e) => Some(e.url.clone()),
            Target::Remote(_) => None,
        }
    }

    fn __repr__(&self) -> String {
        match &self.target {
            Target::Embedded(e) => format!("<openclaw provisioner, API at {}>", e.url),
            Target::Remote(_) => "<openclaw client>".to_string(),
        }
    }

    // --- blocking -----------------------------------------------------------------------

    #[pyo3(signature = (customer_id, subdomain, plan, region, external_ref=None, provider_keys=None))]
    #[allow(clippy::too_many_arguments)]
    fn create(
        &self,
        py: Python<'_>,
        customer_id: String,
        subdomain: String,
        plan: String,
        region: String,
        external_ref: Option<String>,
        provider_keys: Option<HashMap<String, String>>,
    ) -> PyResult<String> {
        let target = self.target.clone();
        let order = embedded::order(
            customer_id,
            subdomain,
            plan,
            region,
            external_ref,
            provider_keys.unwrap_or_default().into_iter().collect(),
        );
        block(py, async move { target.create(order).await })
    }

    fn get(&self, py: Python<'_>, id: String) -> PyResult<String> {
        let target = self.target.clone();
        block(py, async move { target.get(&id).await })
    }

    #[pyo3(signature = (customer_id=None, status=None))]
    fn list(
        &self,
        py: Python<'_>,
        customer_id: Option<String>,
        status: Option<String>,
    ) -> PyResult<String> {
        let target = self.target.clone();
        block(py, async move { target.list(customer_id, status).await })
    }

    #[pyo3(signature = (operation, id, argument=None))]
    fn operate(
        &self,
        py: Python<'_>,
        operation: &str,
        id: String,
        argument: Option<String>,
    ) -> PyResult<String> {
        let target = self.target.clone();
        let operation =
            target::operation(operation, id, argument).map_err(|f| f.into_py_err(py))?;
        block(py, async move { target.operate(operation).await })
    }

    fn instance_events(&self, py: Python<'_>, id: String) -> PyResult<String> {
        let target = self.target.clone();
        block(py, async move { target.instance_events(&id).await })
    }

    fn sweep(&self, py: Python<'_>, dry_run: bool) -> PyResult<String> {
        let target = self.target.clone();
        block(py, async move { target.sweep(dry_run).await })
    }

    fn wait(&self, py: Python<'_>, id: String, status: String, timeout: f64) -> PyResult<String> {
        let target = self.target.clone();
        let timeout = Duration::try_from_secs_f64(timeout.max(0.0)).unwrap_or(Duration::MAX);
        block(py, async move { target.wait(&id, &status, timeout).await })
    }

    /// `n` calls of the provisioner's `get` in Rust, on the runtime, timed there (seconds):
    /// the baseline the bindings' own `get` is measured against (`benches/`).
    fn _bench_rust_get(&self, py: Python<'_>, id: String, n: u32) -> PyResult<f64> {
        let embedded = self
            .target
            .embedded("_bench_rust_get")
            .map_err(|f| f.into_py_err(py))?
            .clone();
        block(py, async move {
            let id = id
                .parse::<openclaw_core::domain::InstanceId>()
                .map_err(|_| Failure::Core(openclaw_core::Error::invalid("id", "not an id")))?;
            let started = std::time::Instant::now();
            for _ in 0..n {
                let instance = embedded.provisioner()?.get(id).await?;
                std::hint::black_box(&instance);
            }
            Ok(started.elapsed().as_secs_f64())
        })
    }

    fn run_pending_jobs(&self, py: Python<'_>) -> PyResult<usize> {
        let embedded = self
            .target
            .embedded("run_pending_jobs")
            .map_err(|f| f.into_py_err(py))?
            .clone();
        block(py, async move { embedded.run_pending_jobs().await })
    }

    fn run_workers(&self, py: Python<'_>) -> PyResult<()> {
        let embedded = self
            .target
            .embedded("run_workers")
            .map_err(|f| f.into_py_err(py))?
            .clone();
        let _guard = runtime::runtime().enter();
        embedded.run_workers().map_err(|f| f.into_py_err(py))
    }

    #[getter]
    fn workers_running(&self) -> bool {
        match &self.target {
            Target::Embedded(e) => e.workers_running(),
            Target::Remote(_) => false,
        }
    }

    fn stop(&self, py: Python<'_>) -> PyResult<()> {
        let embedded = self
            .target
            .embedded("stop")
            .map_err(|f| f.into_py_err(py))?
            .clone();
        block(py, async move { embedded.stop_workers().await })
    }

    fn close(&self, py: Python<'_>) -> PyResult<()> {
        match &self.target {
            Target::Embedded(e) => {
                let embedded = e.clone();
                block(py, async move { embedded.close().await })
            }
            Target::Remote(_) => Ok(()),
        }
    }

    fn events(&self, py: Python<'_>, after: u64, follow: bool) -> PyResult<NativeCursor> {
        let target = self.target.clone();
        let cursor = block(py, async move { target.events(after, follow).await })?;
        Ok(NativeCursor {
            cursor: Arc::new(tokio::sync::Mutex::new(cursor)),
        })
    }

    // --- coroutines ---------------------------------------------------------------------

    #[pyo3(signature = (customer_id, subdomain, plan, region, external_ref=None, provider_keys=None))]
    #[allow(clippy::too_many_arguments)]
    fn create_async<'py>(
        &self,
        py: Python<'py>,
        customer_id: String,
        subdomain: String,
        plan: String,
        region: String,
        external_ref: Option<String>,
        provider_keys: Option<HashMap<String, String>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let target = self.target.clone();
        let order = embedded::order(
            customer_id,
            subdomain,
            plan,
            region,
            external_ref,
            provider_keys.unwrap_or_default().into_iter().collect(),
        );
        awaitable(py, async move { target.create(order).await })
    }

    fn get_async<'py>(&self, py: Python<'py>, id: String) -> PyResult<Bound<'py, PyAny>> {
        let target = self.target.clone();
        awaitable(py, async move { target.get(&id).await })
    }

    #[pyo3(signature = (customer_id=None, status=None))]
    fn list_async<'py>(
        &self,
        py: Python<'py>,
        customer_id: Option<String>,
        status: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let target = self.target.clone();
        awaitable(py, async move { target.list(customer_id, status).await })
    }

    #[pyo3(signature = (operation, id, argument=None))]
    fn operate_async<'py>(
        &self,
        py: Python<'py>,
        operation: &str,
        id: String,
        argument: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let target = self.target.clone();
        let operation =
            target::operation(operation, id, argument).map_err(|f| f.into_py_err(py))?;
        awaitable(py, async move { target.operate(operation).await })
    }

    fn instance_events_async<'py>(
        &self,
        py: Python<'py>,
        id: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let target = self.target.clone();
        awaitable(py, async move { target.instance_events(&id).await })
    }

    fn sweep_async<'py>(&self, py: Python<'py>, dry_run: bool) -> PyResult<Bound<'py, PyAny>> {
        let target = self.target.clone();
        awaitable(py, async move { target.sweep(dry_run).await })
    }

    fn wait_async<'py>(
        &self,
        py: Python<'py>,
        id: String,
        status: String,
        timeout: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let target = self.target.clone();
        let timeout = Duration::try_from_secs_f64(timeout.max(0.0)).unwrap_or(Duration::MAX);
        awaitable(py, async move { target.wait(&id, &status, timeout).await })
    }

    fn run_pending_jobs_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let embedded = self
            .target
            .embedded("run_pending_jobs")
            .map_err(|f| f.into_py_err(py))?
            .clone();
        awaitable(py, async move { embedded.run_pending_jobs().await })
    }

    fn stop_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let embedded = self
            .target
            .embedded("stop")
            .map_err(|f| f.into_py_err(py))?
            .clone();
        awaitable(py, async move { embedded.stop_workers().await })
    }

    fn close_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let target = self.target.clone();
        awaitable(py, async move {
            match target {
                Target::Embedded(e) => e.close().await,
                Target::Remote(_) => Ok(()),
            }
        })
    }

    fn events_async<'py>(
        &self,
        py: Python<'py>,
        after: u64,
        follow: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let target = self.target.clone();
        awaitable(py, async move {
            let cursor = target.events(after, follow).await?;
            Ok(NativeCursor {
                cursor: Arc::new(tokio::sync::Mutex::new(cursor)),
            })
        })
    }
}

#[pymethods]
impl NativeCursor {
    /// The next event's JSON, blocking; `None` at the end of a cursor without `follow`.
    fn next(&self, py: Python<'_>) -> PyResult<Option<String>> {
        let cursor = self.cursor.clone();
        block(py, async move { next_json(&cursor).await })
    }

    /// The same, as a coroutine.
    fn next_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let cursor = self.cursor.clone();
        awaitable(py, async move { next_json(&cursor).await })
    }
}

async fn next_json(cursor: &tokio::sync::Mutex<Cursor>) -> Outcome<Option<String>> {
    let mut cursor = cursor.lock().await;
    match cursor.next().await? {
        Some(event) => serde_json::to_string(&event)
            .map(Some)
            .map_err(|e| Failure::Core(openclaw_core::Error::internal(e.to_string()))),
        None => Ok(None),
    }
}

/// The module `openclaw._native`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Native>()?;
    m.add_class::<NativeCursor>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
