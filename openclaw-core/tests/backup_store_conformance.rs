//! The backup store conformance suite against the two stores this crate's users get without
//! a cloud: object_store's in-memory store and a local directory (the binary's default). The
//! binary runs it against an S3-compatible server too (`openclaw-http/tests/backup_s3.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::ObjectStore;

async fn memory() -> Arc<dyn ObjectStore> {
    Arc::new(InMemory::new())
}

mod in_memory {
    use super::*;
    openclaw_core::backup_store_conformance_tests!(memory);
}

async fn directory() -> Arc<dyn ObjectStore> {
    let dir = std::env::temp_dir().join(format!("openclaw-backups-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    Arc::new(
        LocalFileSystem::new_with_prefix(&dir)
            .unwrap()
            .with_automatic_cleanup(true),
    )
}

mod local_directory {
    use super::*;
    openclaw_core::backup_store_conformance_tests!(directory);
}
