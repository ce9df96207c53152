//! Step 1: the server. Create it — or, when a previous attempt may have created it, look it
//! up by the instance's label and adopt it — and record its id and addresses before anything
//! else happens.
//!
//! The first attempt creates directly: the server's name is derived from the instance id and
//! the provider keeps names unique, so a second create cannot make a second server (the
//! adapter answers a name already taken by adopting ours). Looking up first would cost a
//! request on every provisioning for a case that only arises when resuming.

use crate::cloud_init::render_user_data;
use crate::domain::Instance;
use crate::engine::config::Trigger;
use crate::engine::context::Engine;
use crate::engine::saga::{Run, StepFailure};
use crate::error::{Error, Result};
use crate::ports::ownership::{server_labels, server_name};
use crate::ports::ServerSpec;

/// Everything the compute provider needs to create `instance`'s server.
/// Its user data carries the bootstrap token of this instance and `job`, the provisioning job
/// creating it.
pub(crate) fn server_spec(
    engine: &Engine,
    instance: &Instance,
    job: crate::domain::JobId,
) -> Result<ServerSpec> {
    let config = &engine.config;
    let (_, plan) = config.catalog.plan(instance.plan.as_str())?;
    let (_, region) = config.catalog.region(instance.region.as_str())?;
    let token = engine.bootstrap_key.token_for(instance.id, job);
    let user_data = render_user_data(&config.cloud_init, instance.id, &instance.fqdn, &token)?;
    Ok(ServerSpec {
        instance_id: instance.id,
        name: server_name(instance.id),
        owner: config.deployment.clone(),
        server_type: plan.server_type.clone(),
        image: plan.image.clone(),
        location: region.location.clone(),
        user_data,
        labels: server_labels(&config.deployment, instance.id),
        ssh_keys: config.ssh_keys.clone(),
        firewalls: config.firewalls.clone(),
        enable_ipv6: config.enable_ipv6,
    })
}

pub(crate) async fn execute(run: &Run<'_>, instance: Instance) -> Result<Instance, StepFailure> {
    if instance.resources.server_id.is_some() {
        return Ok(instance);
    }
    let engine = run.engine;
    let spec = server_spec(engine, &instance, run.job)
        .map_err(|e| StepFailure::from_error(e, Some(Trigger::ServerCreateFailed)))?;
    let resuming = run.attempt > 1;
    let find_or_create = async {
        // A worker that died after creating but before recording left a labelled server
        // behind: adopt it rather than ask for it again.
        let existing = if resuming {
            engine.compute.find_server(instance.id).await?
        } else {
            None
        };
        match existing {
            Some(existing) => {
                tracing::info!(instance = %instance.id, server = %existing.id, "adopting existing server");
                Ok(existing)
            }
            None => engine.compute.create_server(&spec).await,
        }
    };
    let limit = run.remaining(&instance);
    let server = match tokio::time::timeout(limit, find_or_create).await {
        Err(_elapsed) => {
            return Err(StepFailure::triggered(
                Trigger::ProvisionTimeout,
                Error::Cancelled {
                    reason: "provisioning deadline passed while creating the server".into(),
                },
            ))
        }
        Ok(Err(error)) => {
            return Err(StepFailure::from_error(
                error,
                Some(Trigger::ServerCreateFailed),
            ))
        }
        Ok(Ok(server)) => server,
    };
    let recorded_at = engine.now();
    let recorded = engine
        .record_resources(&instance, |r| {
            r.server_id = Some(server.id.clone());
            r.ipv4 = server.ipv4;
            r.ipv6 = server.ipv6;
            r.server_recorded_at = Some(recorded_at);
            r.disk_gb = server.disk_gb;
        })
        .await?;
    run.still_provisioning(recorded)
}

/// Deletes the server, then clears the record. A recorded server is deleted by its id (one
/// request; already gone is success). Only when none is recorded — a create whose response
/// was lost, or a worker that died before recording — is the server looked up by its label.
/// The provider keeps names unique, so there is never a second one to look for.
pub(crate) async fn compensate(
    run: &Run<'_>,
    instance: Instance,
    deleted: &mut Vec<String>,
) -> Result<Instance> {
    let engine = run.engine;
    let server = match &instance.resources.server_id {
        Some(id) => Some(id.clone()),
        None => engine.compute.find_server(instance.id).await?.map(|s| s.id),
    };
    if let Some(id) = &server {
        engine.compute.delete_server(id).await?;
        deleted.push(format!("server {id}"));
    }
    engine
        .record_resources(&instance, |r| {
            r.server_id = None;
            r.ipv4 = None;
            r.ipv6 = None;
            r.server_recorded_at = None;
        })
        .await?
        .ok_or_else(|| Error::not_found("instance", instance.id))
}
