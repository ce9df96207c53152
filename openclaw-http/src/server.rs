//! `openclaw serve`: listen, assemble the deployment, run the workers and the API, and shut
//! down gracefully on SIGTERM or SIGINT.
//!
//! Shutdown order: stop accepting connections and end the event streams (so the graceful
//! wait is not held open by them), let requests in flight finish, let each worker reach a
//! step boundary and hand its job back (its lease released, so another process can take it at
//! once), then stop the sandbox's fakes.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use openclaw_core::{Error, Result};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::{Config, Mode};
use crate::deployment::{self, local_url};
use crate::routes;
use crate::state::AppState;

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

async fn raised(mut rx: watch::Receiver<bool>) {
    while !*rx.borrow_and_update() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// Runs the server described by `config` until `stop` resolves; writes the startup lines
/// (the admin key on first start, then where it listens) to `out`.
pub async fn serve(
    config: Config,
    out: &mut (dyn Write + Send),
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let addr = config.listen_addr()?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| Error::invalid("listen", format!("cannot listen on {addr}: {e}")))?;
    let local: SocketAddr = listener
        .local_addr()
        .map_err(|e| Error::internal(format!("no local address: {e}")))?;
    let deployment = deployment::assemble(&config, local).await?;
    let admin =
        deployment::ensure_admin_key(&deployment.stores.keys, &deployment.stores.facts).await?;

    let (tx, rx) = watch::channel(false);
    let mut state = AppState::with_config(
        deployment.provisioner.clone(),
        deployment.stores.keys.clone(),
        deployment.metrics.clone(),
        &config.http,
    )
    .with_shutdown(rx.clone())
    .with_workers();
    state.pool = deployment.stores.pool.clone();
    state.firebase = config.firebase.project_id.as_ref().map(|project| {
        Arc::new(crate::firebase::FirebaseVerifier::new(
            project,
            &config.firebase.keys_url,
        ))
    });
    state.dashboard = Arc::new(crate::dashboard::PageConfig::of(&config));
    if let (Some(parts), Some(url)) = (&deployment.redis, &config.redis_url) {
        state.redis = Some(parts.clone());
        state.api_limits = Arc::new(crate::rate_limit::ApiRateLimits::in_redis(
            config.http.rate_limit,
            url.expose(),
            config.engine.deployment.as_str(),
            config.redis_replicas,
        )?);
    }
    let revocations = tokio::spawn(crate::revocation::follow(
        deployment.provisioner.clone(),
        state.key_cache.clone(),
    ));
    let app = routes::app(state);

    let write = |out: &mut (dyn Write + Send), line: String| {
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    };
    match &admin {
        deployment::AdminKey::Created(token) => write(
            out,
            format!(
                "admin API key (shown once, store it now): {}",
                token.expose()
            ),
        ),
        deployment::AdminKey::NoneActive => {
            tracing::warn!("no active admin API key; make one with `openclaw keys create --name admin --scope admin`");
            write(
                out,
                "no active admin API key: make one with `openclaw keys create --name admin \
                 --scope admin` (it prints the key once)"
                    .to_string(),
            );
        }
        deployment::AdminKey::Exists => {}
    }
    write(
        out,
        match &config.firebase.project_id {
            Some(project) if config.firebase.api_key.is_some() => format!(
                "customer sign-in: Firebase ID tokens of project {project}, and the dashboard's \
                 email and password form"
            ),
            Some(project) => format!(
                "customer sign-in: Firebase ID tokens of project {project} (set firebase.api_key \
                 for the dashboard's sign-in form)"
            ),
            None => "customer sign-in: off (set firebase.project_id to accept Firebase ID tokens)"
                .to_string(),
        },
    );
    if let Some(notice) = ssh_notice(&config) {
        tracing::warn!("{notice}");
        write(out, notice);
    }
    if deployment.keys_generated {
        write(
            out,
            format!(
                "generated the deployment keys into {} (mode 0600); back it up with the database",
                config.secrets_file.display()
            ),
        );
    }
    let mode = match deployment.mode {
        Mode::Live => "live",
        _ => "sandbox",
    };
    // Before the last line, "listening on", which scripts wait for.
    write(
        out,
        format!(
            "dashboard: {}{} (operators sign in with an API key)",
            local_url(local).trim_end_matches('/'),
            crate::dashboard::PATH
        ),
    );
    write(
        out,
        format!(
            "openclaw {} in {mode} mode: {}; store: {}; listening on {}",
            env!("CARGO_PKG_VERSION"),
            deployment.providers,
            deployment.store_description,
            local_url(local)
        ),
    );
    tracing::info!(mode, listen = %local, "serving");

    let provisioner = deployment.provisioner.clone();
    let tx = Arc::new(tx);
    let stopping = Arc::new(AtomicBool::new(false));
    // The workers, watched: if they end before a shutdown was asked for (a failure that
    // escaped every job's guard), the server stops too and `serve` returns the error, so
    // the process exits non-zero and its supervisor restarts it — rather than go on
    // accepting orders that nothing carries out. `/readyz` answers 503 from that moment.
    let workers = tokio::spawn({
        let rx = rx.clone();
        let tx = tx.clone();
        let stopping = stopping.clone();
        async move {
            let ended = provisioner.run_workers(raised(rx)).await;
            if !stopping.load(Ordering::SeqCst) {
                let why = match &ended {
                    Ok(()) => "the provisioning workers stopped".to_string(),
                    Err(error) => format!("the provisioning workers stopped: {error}"),
                };
                tracing::error!(reason = %why, "stopping the server");
                let _ = tx.send(true);
                return Err(Error::internal(why));
            }
            ended
        }
    });
    let stopper = tx.clone();
    tokio::spawn({
        let stopping = stopping.clone();
        async move {
            stop.await;
            stopping.store(true, Ordering::SeqCst);
            tracing::info!("shutting down: no new requests; jobs stop at their next step");
            let _ = stopper.send(true);
        }
    });
    let served = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(raised(rx.clone()))
    .await;
    revocations.abort();
    // The server can also end on its own (an accept error): stop the workers then too.
    stopping.store(true, Ordering::SeqCst);
    let _ = tx.send(true);
    let deadline = config.http.shutdown_timeout;
    let mut failure = None;
    match tokio::time::timeout(deadline, workers).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(error @ Error::Internal { .. }))) => failure = Some(error),
        Ok(Ok(Err(error))) => tracing::warn!(%error, "workers stopped with an error"),
        Ok(Err(error)) => tracing::warn!(%error, "workers panicked"),
        Err(_) => {
            tracing::warn!(
                "workers did not stop within {deadline:?}; their leases run out instead"
            );
        }
    }
    drop(deployment);
    served.map_err(|e| Error::unavailable("http server", e.to_string()))?;
    if let Some(error) = failure {
        return Err(error);
    }
    tracing::info!("stopped");
    Ok(())
}

/// In live mode, what an operator should know about SSH to the instances: with no SSH key or
/// no admin network configured, SSH stays closed on every server (allowed: the agent runs
/// everything an operator needs), and the start says so.
pub fn ssh_notice(config: &Config) -> Option<String> {
    if config.effective_mode() != Mode::Live {
        return None;
    }
    let keys = !config.engine.ssh_keys.is_empty();
    let networks = !config.engine.cloud_init.admin_ssh_cidrs.is_empty();
    let missing = match (keys, networks) {
        (true, true) => return None,
        (false, false) => {
            "no SSH key (engine.ssh_keys) and no admin network (engine.cloud_init.admin_ssh_cidrs)"
        }
        (false, true) => "no SSH key (engine.ssh_keys)",
        (true, false) => "no admin network (engine.cloud_init.admin_ssh_cidrs)",
    };
    Some(format!(
        "SSH stays closed on every instance: {missing} is configured; the instance agent \
         (POST /v1/instances/{{id}}/actions/…) is the way in"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ssh_notice_names_what_is_missing_in_live_mode_only() {
        let mut config = Config {
            mode: Mode::Live,
            ..Config::default()
        };
        let notice = ssh_notice(&config).unwrap_or_default();
        assert!(
            notice.contains("no SSH key") && notice.contains("no admin network"),
            "{notice}"
        );
        config.engine.ssh_keys = vec!["ops".into()];
        let notice = ssh_notice(&config).unwrap_or_default();
        assert!(
            !notice.contains("no SSH key") && notice.contains("no admin network"),
            "{notice}"
        );
        config.engine.cloud_init.admin_ssh_cidrs = vec!["203.0.113.0/24".into()];
        assert_eq!(ssh_notice(&config), None);
        config.mode = Mode::Sandbox;
        config.engine.ssh_keys.clear();
        assert_eq!(
            ssh_notice(&config),
            None,
            "the sandbox has no SSH to speak of"
        );
    }
}
