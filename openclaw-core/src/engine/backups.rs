//! Backups of the instances' OpenClaw state, kept by the control plane in its backup store
//! (any [`ObjectStore`]: a local directory, an S3-compatible bucket, memory in tests).
//!
//! The agent on an instance makes the archive (a `backup` task) and uploads it here; a
//! `restore` task carries the archive's id and SHA-256, and the agent downloads it from here.
//! Under `instances/<instance id>/` each backup is two objects: `<id>.tar.gz`, the archive,
//! and `<id>.json`, its [`Backup`] record, written once the archive is whole — a backup
//! without its record is not listed, and is deleted by the periodic pass.
//!
//! Retention ([`BackupConfig`](super::BackupConfig)): the newest `keep_last` per instance,
//! none older than `max_age` but the newest; the backups of an instance terminated (or gone)
//! for `keep_after_termination` are all deleted. With `every` set, the periodic pass also
//! queues a backup for each active instance whose newest backup is that old.

use std::fmt::Display;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::stream::{BoxStream, Stream, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, PutPayload, WriteMultipart};
use sha2::{Digest, Sha256};

use super::context::Engine;
use super::provisioner::Provisioner;
use crate::domain::{
    is_sha256_hex, to_hex, AgentTask, AgentTaskId, AgentTaskKind, AgentTaskState, Backup,
    InstanceFilter, InstanceId, InstanceStatus,
};
use crate::error::{Error, Result};

/// The top folder of the engine's objects.
const ROOT: &str = "instances";
/// The size of each part of a multipart upload (S3 needs at least 5 MiB).
const PART_SIZE: usize = 8 << 20;
/// Parts of one upload in flight at once.
const PARTS_IN_FLIGHT: usize = 2;
/// An archive without its record is deleted once it is this old: its upload ended without
/// a record (the process died between the two writes).
const UNRECORDED_GRACE: chrono::Duration = chrono::Duration::hours(1);
/// Who queues the scheduled backups, in the audit trail.
pub const BACKUP_SCHEDULE_ACTOR: &str = "backup schedule";

fn folder(instance: InstanceId) -> Path {
    Path::from(format!("{ROOT}/{instance}"))
}

fn archive_path(instance: InstanceId, id: AgentTaskId) -> Path {
    Path::from(format!("{ROOT}/{instance}/{id}.tar.gz"))
}

fn record_path(instance: InstanceId, id: AgentTaskId) -> Path {
    Path::from(format!("{ROOT}/{instance}/{id}.json"))
}

/// The backup store's errors as the engine's: a missing object is `NotFound`, anything else
/// the store being unavailable (worth a retry).
fn store_error(error: object_store::Error) -> Error {
    match error {
        object_store::Error::NotFound { path, .. } => Error::not_found("backup object", path),
        other => Error::Unavailable {
            service: "backup store".to_string(),
            message: other.to_string(),
            status: None,
        },
    }
}

/// What a finished upload left in the store.
enum Upload {
    Done,
    Refused(Error),
}

impl Provisioner {
    /// Queues a backup of `instance` for its agent, on behalf of `actor` (audited). The
    /// backup's id will be the task's.
    pub async fn request_backup(&self, instance: InstanceId, actor: &str) -> Result<AgentTask> {
        self.request_agent_task(instance, AgentTaskKind::Backup, actor)
            .await
    }

    /// Queues a restore of `instance` from its backup `backup`, on behalf of `actor`.
    /// `NotFound` for a backup this instance does not have.
    pub async fn request_restore(
        &self,
        instance: InstanceId,
        backup: AgentTaskId,
        actor: &str,
    ) -> Result<AgentTask> {
        let found = self
            .backup(instance, backup)
            .await?
            .ok_or_else(|| Error::not_found("backup", backup))?;
        let kind = AgentTaskKind::Restore {
            backup: found.id.to_string(),
            sha256: found.sha256,
        };
        self.request_agent_task(instance, kind, actor).await
    }

    /// The backups of `instance`, newest first.
    pub async fn backups(&self, instance: InstanceId) -> Result<Vec<Backup>> {
        list_backups(&self.engine, instance).await
    }

    /// One backup of `instance`.
    pub async fn backup(&self, instance: InstanceId, id: AgentTaskId) -> Result<Option<Backup>> {
        read_record(&self.engine, instance, id).await
    }

    /// Deletes a backup of `instance` on behalf of `actor` (audited). `NotFound` when there
    /// is no such backup.
    pub async fn delete_backup(
        &self,
        instance: InstanceId,
        id: AgentTaskId,
        actor: &str,
    ) -> Result<()> {
        if self.backup(instance, id).await?.is_none() {
            return Err(Error::not_found("backup", id));
        }
        delete_one(&self.engine, instance, id).await?;
        self.engine
            .audit(
                Some(instance),
                "backup_deleted",
                actor,
                format!("backup {id} deleted"),
            )
            .await
    }

    /// Takes the archive `instance`'s agent uploads for its running backup task `task`:
    /// streamed into the backup store, its SHA-256 checked against `sha256` before it is
    /// kept, then its record written. Sending it again replaces it.
    ///
    /// `Conflict` unless `task` is a running backup task of `instance`; `InvalidInput` for
    /// an empty archive, one over `backups.max_bytes`, a body cut off, or another SHA-256
    /// — nothing is kept then.
    pub async fn store_backup<S, E>(
        &self,
        instance: InstanceId,
        task: AgentTaskId,
        sha256: &str,
        body: S,
    ) -> Result<Backup>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Send,
        E: Display,
    {
        if !is_sha256_hex(sha256) {
            return Err(Error::invalid("sha256", "must be 64 lowercase hex digits"));
        }
        let engine = &self.engine;
        let running = engine
            .agents
            .get_agent_task(task)
            .await?
            .filter(|t| t.instance_id == instance)
            .ok_or_else(|| Error::not_found("agent task", task))?;
        if running.kind != AgentTaskKind::Backup || running.state != AgentTaskState::Running {
            return Err(Error::conflict(format!(
                "task {task} is {} ({}); an archive is taken only for a running backup task",
                running.kind, running.state
            )));
        }
        let (bytes, outcome) = upload(engine, archive_path(instance, task), sha256, body).await?;
        if let Upload::Refused(error) = outcome {
            return Err(error);
        }
        let openclaw_version = engine
            .agents
            .agent_presence(instance)
            .await?
            .and_then(|p| p.report.openclaw_version);
        let record = Backup {
            id: task,
            instance_id: instance,
            created_at: engine.now(),
            bytes,
            sha256: sha256.to_string(),
            openclaw_version,
        };
        let json = serde_json::to_vec(&record)
            .map_err(|e| Error::internal(format!("serializing a backup record: {e}")))?;
        engine
            .backups
            .put(&record_path(instance, task), PutPayload::from(json))
            .await
            .map_err(store_error)?;
        engine.metrics.backups_stored.incr();
        engine.metrics.backup_bytes_stored.add(bytes);
        Ok(record)
    }

    /// A backup of `instance` and its archive as a stream, for its agent to restore from.
    /// `NotFound` for a backup this instance does not have.
    pub async fn open_backup(
        &self,
        instance: InstanceId,
        id: AgentTaskId,
    ) -> Result<(Backup, BoxStream<'static, Result<Bytes>>)> {
        let engine = &self.engine;
        let record = read_record(engine, instance, id)
            .await?
            .ok_or_else(|| Error::not_found("backup", id))?;
        let archive = engine
            .backups
            .get(&archive_path(instance, id))
            .await
            .map_err(|e| match e {
                object_store::Error::NotFound { .. } => Error::not_found("backup", id),
                other => store_error(other),
            })?;
        Ok((record, archive.into_stream().map_err(store_error).boxed()))
    }

    /// One periodic pass over the backups: retention for every instance that has any,
    /// deleting those of instances terminated long enough, and the scheduled backups.
    /// Returns how many backups it deleted and how many it queued.
    pub async fn backup_pass(&self) -> Result<(usize, usize)> {
        pass(self).await
    }

    /// Applies retention to `instance`'s backups after its agent stored a new one.
    pub(crate) async fn after_backup(&self, instance: InstanceId) {
        if let Err(error) = prune(&self.engine, instance).await {
            tracing::warn!(%instance, %error, "applying backup retention failed");
        }
    }

    /// Checks that the backup a task reports is the one stored.
    pub(crate) async fn check_backup_output(
        &self,
        instance: InstanceId,
        task: AgentTaskId,
        sha256: &str,
    ) -> Result<()> {
        match self.backup(instance, task).await? {
            Some(stored) if stored.sha256 == sha256 => Ok(()),
            Some(_) => Err(Error::invalid(
                "output",
                "sha256 is not the one of the archive uploaded for this task",
            )),
            None => Err(Error::invalid(
                "output",
                "a backup succeeds only after its archive is uploaded \
                 (PUT /v1/agent/tasks/{task}/backup)",
            )),
        }
    }
}

/// Streams `body` into `path`, counting and hashing it; keeps it only when it is whole,
/// within the size limit and of the SHA-256 announced.
async fn upload<S, E>(engine: &Engine, path: Path, sha256: &str, body: S) -> Result<(u64, Upload)>
where
    S: Stream<Item = std::result::Result<Bytes, E>> + Send,
    E: Display,
{
    let max = engine.config.backups.max_bytes;
    let started = engine
        .backups
        .put_multipart(&path)
        .await
        .map_err(store_error)?;
    let mut writer = WriteMultipart::new_with_chunk_size(started, PART_SIZE);
    let mut hasher = Sha256::new();
    let mut bytes: u64 = 0;
    let mut body = std::pin::pin!(body);
    let refused = loop {
        let chunk = match body.next().await {
            None => break None,
            Some(Err(e)) => {
                break Some(Error::invalid(
                    "archive",
                    format!("the upload was cut off: {e}"),
                ))
            }
            Some(Ok(chunk)) => chunk,
        };
        bytes = bytes.saturating_add(chunk.len() as u64);
        if bytes > max {
            break Some(Error::invalid(
                "archive",
                format!("is larger than {max} bytes (backups.max_bytes)"),
            ));
        }
        hasher.update(&chunk);
        if let Err(e) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
            let _ = writer.abort().await;
            return Err(store_error(e));
        }
        writer.put(chunk);
    };
    let digest = to_hex(&hasher.finalize());
    let refused = refused.or_else(|| {
        if bytes == 0 {
            Some(Error::invalid("archive", "is empty"))
        } else if digest != sha256 {
            Some(Error::invalid(
                "sha256",
                format!("the archive received has SHA-256 {digest}, not the one announced"),
            ))
        } else {
            None
        }
    });
    if let Some(error) = refused {
        if let Err(e) = writer.abort().await {
            tracing::warn!(%path, error = %e, "aborting a refused backup upload failed");
        }
        return Ok((bytes, Upload::Refused(error)));
    }
    writer.finish().await.map_err(store_error)?;
    Ok((bytes, Upload::Done))
}

async fn read_record(
    engine: &Engine,
    instance: InstanceId,
    id: AgentTaskId,
) -> Result<Option<Backup>> {
    let got = match engine.backups.get(&record_path(instance, id)).await {
        Ok(got) => got,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(store_error(e)),
    };
    let json = got.bytes().await.map_err(store_error)?;
    let record: Backup = serde_json::from_slice(&json).map_err(|e| {
        Error::internal(format!("backup record {instance}/{id} does not parse: {e}"))
    })?;
    Ok(Some(record))
}

/// The records and archives under an instance's folder.
struct Folder {
    records: Vec<AgentTaskId>,
    /// Archives with when they were last written.
    archives: Vec<(AgentTaskId, DateTime<Utc>)>,
}

async fn read_folder(engine: &Engine, instance: InstanceId) -> Result<Folder> {
    let objects: Vec<_> = engine
        .backups
        .list(Some(&folder(instance)))
        .try_collect()
        .await
        .map_err(store_error)?;
    let mut found = Folder {
        records: Vec::new(),
        archives: Vec::new(),
    };
    for object in objects {
        let Some(name) = object.location.filename() else {
            continue;
        };
        if let Some(id) = name.strip_suffix(".json") {
            if let Ok(id) = id.parse() {
                found.records.push(id);
            }
        } else if let Some(id) = name.strip_suffix(".tar.gz") {
            if let Ok(id) = id.parse() {
                found.archives.push((id, object.last_modified));
            }
        }
    }
    Ok(found)
}

async fn list_backups(engine: &Engine, instance: InstanceId) -> Result<Vec<Backup>> {
    let mut ids = read_folder(engine, instance).await?.records;
    // Ids are UUIDv7: newest first is descending.
    ids.sort_unstable_by(|a, b| b.cmp(a));
    let mut backups = Vec::with_capacity(ids.len());
    for id in ids {
        // A record deleted between the listing and the read is simply gone.
        if let Some(record) = read_record(engine, instance, id).await? {
            backups.push(record);
        }
    }
    Ok(backups)
}

/// Deletes a backup: its record first (it stops being listed), then its archive.
async fn delete_one(engine: &Engine, instance: InstanceId, id: AgentTaskId) -> Result<()> {
    for path in [record_path(instance, id), archive_path(instance, id)] {
        match engine.backups.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(store_error(e)),
        }
    }
    engine.metrics.backups_deleted.incr();
    Ok(())
}

/// Retention for one live instance; returns how many backups it deleted.
async fn prune(engine: &Engine, instance: InstanceId) -> Result<usize> {
    let config = &engine.config.backups;
    let now = engine.now();
    let max_age = chrono::Duration::from_std(config.max_age).unwrap_or(chrono::Duration::MAX);
    let folder = read_folder(engine, instance).await?;
    let mut backups = list_backups(engine, instance).await?;
    backups.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    let keep = usize::try_from(config.keep_last).unwrap_or(usize::MAX);
    let mut deleted = 0;
    for (rank, backup) in backups.iter().enumerate() {
        let too_many = rank >= keep;
        let too_old = rank > 0
            && !config.max_age.is_zero()
            && now.signed_duration_since(backup.created_at) > max_age;
        if too_many || too_old {
            delete_one(engine, instance, backup.id).await?;
            deleted += 1;
        }
    }
    for (id, written) in folder.archives {
        if !folder.records.contains(&id) && now.signed_duration_since(written) > UNRECORDED_GRACE {
            delete_one(engine, instance, id).await?;
        }
    }
    if deleted > 0 {
        tracing::info!(%instance, deleted, "old backups deleted");
    }
    Ok(deleted)
}

/// Every instance that has a folder in the backup store.
async fn instances_with_backups(engine: &Engine) -> Result<Vec<InstanceId>> {
    let listed = engine
        .backups
        .list_with_delimiter(Some(&Path::from(ROOT)))
        .await
        .map_err(store_error)?;
    Ok(listed
        .common_prefixes
        .iter()
        .filter_map(|p| p.filename().and_then(|n| n.parse().ok()))
        .collect())
}

async fn pass(provisioner: &Provisioner) -> Result<(usize, usize)> {
    let engine = &provisioner.engine;
    let config = &engine.config.backups;
    let now = engine.now();
    let after_end =
        chrono::Duration::from_std(config.keep_after_termination).unwrap_or(chrono::Duration::MAX);
    let mut deleted = 0;
    for instance in instances_with_backups(engine).await? {
        let ended_at = match engine.load(instance).await? {
            Some(i) if i.status.is_live() => None,
            Some(i) => Some(i.updated_at),
            // Gone from the store: count from its newest backup.
            None => list_backups(engine, instance)
                .await?
                .iter()
                .map(|b| b.created_at)
                .max(),
        };
        match ended_at {
            None => deleted += prune(engine, instance).await?,
            Some(at) if now.signed_duration_since(at) > after_end => {
                let all = list_backups(engine, instance).await?;
                for backup in &all {
                    delete_one(engine, instance, backup.id).await?;
                }
                let folder = read_folder(engine, instance).await?;
                for (id, _) in folder.archives {
                    delete_one(engine, instance, id).await?;
                }
                if !all.is_empty() {
                    tracing::info!(%instance, deleted = all.len(), "backups of an ended instance deleted");
                    engine
                        .audit(
                            Some(instance),
                            "backups_expired",
                            BACKUP_SCHEDULE_ACTOR,
                            format!(
                                "{} backups deleted: the instance ended more than {} s ago",
                                all.len(),
                                config.keep_after_termination.as_secs()
                            ),
                        )
                        .await?;
                }
                deleted += all.len();
            }
            Some(_) => {}
        }
    }
    let queued = if config.every.is_zero() {
        0
    } else {
        schedule(provisioner).await?
    };
    Ok((deleted, queued))
}

/// Queues a backup for each active instance with a connected agent whose newest backup is
/// at least `every` old and that has no backup under way.
async fn schedule(provisioner: &Provisioner) -> Result<usize> {
    let engine = &provisioner.engine;
    let every =
        chrono::Duration::from_std(engine.config.backups.every).unwrap_or(chrono::Duration::MAX);
    let mut filter = InstanceFilter {
        search: None,
        status: Some(InstanceStatus::Active),
        limit: Some(InstanceFilter::MAX_LIMIT),
        ..InstanceFilter::default()
    };
    let mut queued = 0;
    loop {
        let page = provisioner.list(&filter).await?;
        for instance in &page.items {
            let now = engine.now();
            let newest = list_backups(engine, instance.id)
                .await?
                .first()
                .map(|b| b.created_at);
            if newest.is_some_and(|at| now.signed_duration_since(at) < every) {
                continue;
            }
            if !provisioner.agent_status(instance.id).await?.connected {
                continue;
            }
            let under_way = engine
                .agents
                .agent_tasks(instance.id, 20)
                .await?
                .iter()
                .any(|t| t.kind == AgentTaskKind::Backup && !t.state.is_finished());
            if under_way {
                continue;
            }
            match provisioner
                .request_backup(instance.id, BACKUP_SCHEDULE_ACTOR)
                .await
            {
                Ok(_) => queued += 1,
                // It stopped being active since the listing.
                Err(Error::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        match page.next {
            Some(next) => filter.after = Some(next),
            None => return Ok(queued),
        }
    }
}
