//! [`Compute`] and [`Dns`] behind the running job's lease: no side effect starts unless the
//! job's local deadline has not passed and the store has just confirmed (and extended) its
//! lease. The engine puts these directly around the adapters, under the retry layer, so
//! every attempt of a retried call is checked — a worker that stalls between two attempts
//! stops too.
//!
//! Calls made outside a job (an operator's dry-run sweep) pass through unchecked; reads
//! made inside one check only the local deadline (they change nothing, but a worker past
//! its lease has no business going on).

use std::sync::Arc;

use async_trait::async_trait;

use super::lease;
use crate::domain::{InstanceId, RecordId, ServerId};
use crate::error::Result;
use crate::ports::{Compute, Dns, DnsRecord, RecordSpec, Server, ServerSpec};

async fn before_side_effect() -> Result<()> {
    match lease::current() {
        Some(guard) => guard.ensure_live().await,
        None => Ok(()),
    }
}

fn before_read() -> Result<()> {
    match lease::current() {
        Some(guard) => guard.check_local(),
        None => Ok(()),
    }
}

/// A [`Compute`] whose side effects need the running job's lease.
pub(crate) struct FencedCompute(pub(crate) Arc<dyn Compute>);

#[async_trait]
impl Compute for FencedCompute {
    async fn create_server(&self, spec: &ServerSpec) -> Result<Server> {
        before_side_effect().await?;
        self.0.create_server(spec).await
    }

    async fn find_server(&self, instance: InstanceId) -> Result<Option<Server>> {
        before_read()?;
        self.0.find_server(instance).await
    }

    async fn get_server(&self, id: &ServerId) -> Result<Option<Server>> {
        before_read()?;
        self.0.get_server(id).await
    }

    async fn delete_server(&self, id: &ServerId) -> Result<()> {
        before_side_effect().await?;
        self.0.delete_server(id).await
    }

    async fn power_off(&self, id: &ServerId) -> Result<()> {
        before_side_effect().await?;
        self.0.power_off(id).await
    }

    async fn power_on(&self, id: &ServerId) -> Result<()> {
        before_side_effect().await?;
        self.0.power_on(id).await
    }

    async fn change_type(&self, id: &ServerId, server_type: &str) -> Result<()> {
        before_side_effect().await?;
        self.0.change_type(id, server_type).await
    }

    async fn list_owned(&self) -> Result<Vec<Server>> {
        before_read()?;
        self.0.list_owned().await
    }
}

/// A [`Dns`] whose side effects need the running job's lease.
pub(crate) struct FencedDns(pub(crate) Arc<dyn Dns>);

#[async_trait]
impl Dns for FencedDns {
    async fn ensure_records(&self, spec: &RecordSpec) -> Result<Vec<DnsRecord>> {
        before_side_effect().await?;
        self.0.ensure_records(spec).await
    }

    async fn find_records(&self, name: &str) -> Result<Vec<DnsRecord>> {
        before_read()?;
        self.0.find_records(name).await
    }

    async fn delete_record(&self, id: &RecordId) -> Result<()> {
        before_side_effect().await?;
        self.0.delete_record(id).await
    }

    async fn list_owned(&self) -> Result<Vec<DnsRecord>> {
        before_read()?;
        self.0.list_owned().await
    }
}
