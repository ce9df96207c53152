//! What the engine needs of a backup store (any [`ObjectStore`]: memory, a local directory,
//! an S3-compatible bucket), as checks. Each check builds a provisioner on in-memory ports
//! with the store under test as its backup store, and works under a prefix of its own, so
//! checks can share one bucket.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{stream, TryStreamExt};
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::ObjectStore;

use super::unique;
use crate::domain::{sha256_hex, AgentTaskId, CreateInstance, DeploymentName, InstanceId};
use crate::engine::AgentTaskResult;
use crate::error::Error;
use crate::memory::{InMemoryCompute, InMemoryDns, InMemoryHealth};
use crate::{EngineConfig, Provisioner};

/// A provisioner whose backups go to `store` under a fresh prefix; returns it with that
/// prefix's view of the store, to look at what it left.
fn provisioner(
    store: Arc<dyn ObjectStore>,
    adjust: impl FnOnce(&mut EngineConfig),
) -> (Provisioner, Arc<dyn ObjectStore>) {
    let scoped: Arc<dyn ObjectStore> =
        Arc::new(PrefixStore::new(store, format!("conformance-{}", unique())));
    let owner = DeploymentName::parse("conformance").unwrap();
    let zone = "claw.example.com";
    let compute = InMemoryCompute::new(owner.clone());
    let mut config = EngineConfig::new(owner.clone(), zone);
    adjust(&mut config);
    let provisioner = Provisioner::builder()
        .compute(Arc::new(compute.clone()))
        .dns(Arc::new(InMemoryDns::new(owner, zone)))
        .health(Arc::new(InMemoryHealth::following(compute)))
        .backup_store(scoped.clone())
        .config(config)
        .build()
        .expect("a provisioner on the backup store under test");
    (provisioner, scoped)
}

async fn active(provisioner: &Provisioner) -> InstanceId {
    let order = CreateInstance {
        customer_id: "customer-7".into(),
        subdomain: format!("t{}", unique()),
        plan: "starter".into(),
        region: "eu-west".into(),
        ..Default::default()
    };
    let instance = provisioner.create(order).await.expect("create");
    provisioner.run_pending_jobs().await.expect("provision");
    instance.id
}

/// A backup task of `instance`, taken by its agent (by hand).
async fn running_backup(provisioner: &Provisioner, instance: InstanceId) -> AgentTaskId {
    let task = provisioner
        .request_backup(instance, "conformance")
        .await
        .expect("request_backup");
    let taken = provisioner
        .next_agent_task(instance, Duration::ZERO)
        .await
        .expect("next_agent_task")
        .expect("the backup task is handed out");
    assert_eq!(taken.id, task.id);
    task.id
}

/// `archive` in chunks of `chunk` bytes.
fn chunks(
    archive: &[u8],
    chunk: usize,
) -> impl futures_util::Stream<Item = Result<Bytes, Infallible>> + Send + 'static {
    let parts: Vec<_> = archive
        .chunks(chunk)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    stream::iter(parts)
}

/// Deterministic bytes that do not compress to nothing.
fn archive_of(len: usize) -> Vec<u8> {
    let mut state: u32 = 0x9e37_79b9;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state.to_le_bytes()[0]
        })
        .collect()
}

async fn objects(store: &Arc<dyn ObjectStore>) -> Vec<Path> {
    store
        .list(None)
        .map_ok(|meta| meta.location)
        .try_collect()
        .await
        .expect("listing the store")
}

/// An archive of several parts (20 MiB, sent in uneven chunks) goes in and comes back byte
/// for byte; its record says its size, SHA-256 and instance; the report of the task that
/// names that SHA-256 succeeds.
pub async fn archives_round_trip_whole(store: Arc<dyn ObjectStore>) {
    let (provisioner, _) = provisioner(store, |_| {});
    let instance = active(&provisioner).await;
    let task = running_backup(&provisioner, instance).await;
    let archive = archive_of(20 << 20);
    let sha256 = sha256_hex(&archive);
    let stored = provisioner
        .store_backup(instance, task, &sha256, chunks(&archive, 1_000_003))
        .await
        .expect("store_backup of a whole archive");
    assert_eq!(stored.id, task);
    assert_eq!(stored.instance_id, instance);
    assert_eq!(stored.bytes, archive.len() as u64);
    assert_eq!(stored.sha256, sha256);
    provisioner
        .report_agent_task(
            instance,
            task,
            AgentTaskResult::Ok(
                serde_json::json!({ "backup": task.to_string(), "sha256": sha256 }),
            ),
        )
        .await
        .expect("the report of a stored backup");

    assert_eq!(
        provisioner.backups(instance).await.expect("backups"),
        vec![stored.clone()],
        "listed once, as stored"
    );
    let (record, body) = provisioner
        .open_backup(instance, task)
        .await
        .expect("open_backup");
    assert_eq!(record, stored);
    let back: Vec<Bytes> = body.try_collect().await.expect("reading the archive back");
    assert!(
        back.concat() == archive,
        "the archive comes back byte for byte"
    );
}

/// An upload refused (another SHA-256, over the size limit) leaves nothing in the store —
/// no record, no archive, no part of a multipart upload.
pub async fn refused_uploads_leave_nothing(store: Arc<dyn ObjectStore>) {
    let (provisioner, scoped) = provisioner(store, |c| c.backups.max_bytes = 12 << 20);
    let instance = active(&provisioner).await;
    let task = running_backup(&provisioner, instance).await;
    let archive = archive_of(10 << 20);
    let err = provisioner
        .store_backup(
            instance,
            task,
            &sha256_hex(b"other"),
            chunks(&archive, 1 << 20),
        )
        .await
        .expect_err("another SHA-256 is refused");
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    let big = archive_of(13 << 20);
    let err = provisioner
        .store_backup(instance, task, &sha256_hex(&big), chunks(&big, 1 << 20))
        .await
        .expect_err("an archive over max_bytes is refused");
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    assert!(provisioner.backups(instance).await.unwrap().is_empty());
    assert_eq!(
        objects(&scoped).await,
        Vec::<Path>::new(),
        "nothing left behind"
    );
}

/// Each instance sees only its own backups; a delete removes the record and the archive;
/// retention keeps the newest `keep_last`.
pub async fn instances_are_apart_and_deletes_are_final(store: Arc<dyn ObjectStore>) {
    let (provisioner, scoped) = provisioner(store, |c| c.backups.keep_last = 1);
    let one = active(&provisioner).await;
    let other = active(&provisioner).await;
    let mut ids = Vec::new();
    for instance in [one, one, other] {
        let task = running_backup(&provisioner, instance).await;
        let archive = archive_of(4096 + ids.len());
        let sha256 = sha256_hex(&archive);
        provisioner
            .store_backup(instance, task, &sha256, chunks(&archive, 1000))
            .await
            .expect("store_backup");
        provisioner
            .report_agent_task(
                instance,
                task,
                AgentTaskResult::Ok(serde_json::json!({ "sha256": sha256 })),
            )
            .await
            .expect("report");
        ids.push(task);
    }
    let listed = |instance| {
        let provisioner = provisioner.clone();
        async move {
            provisioner
                .backups(instance)
                .await
                .unwrap()
                .iter()
                .map(|b| b.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(listed(one).await, vec![ids[1]], "retention kept the newest");
    assert_eq!(listed(other).await, vec![ids[2]]);
    assert!(
        provisioner.open_backup(other, ids[1]).await.is_err(),
        "another instance's backup does not open"
    );
    provisioner
        .delete_backup(one, ids[1], "conformance")
        .await
        .expect("delete_backup");
    assert!(listed(one).await.is_empty());
    assert!(matches!(
        provisioner.open_backup(one, ids[1]).await.err(),
        Some(Error::NotFound { .. })
    ));
    let left: Vec<String> = objects(&scoped)
        .await
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        left.len(),
        2,
        "the other instance's record and archive: {left:?}"
    );
    assert!(
        left.iter().all(|p| p.contains(&other.to_string())),
        "{left:?}"
    );
}
