//! The provisioning engine: the [`Provisioner`], its configuration, the saga it runs and the
//! workers that run it.

mod agent_watch;
mod agents;
mod backups;
mod builder;
mod config;
mod context;
mod fenced;
mod fleet;
mod jobs;
mod lease;
mod maintenance;
mod metrics;
mod provisioner;
mod reseal;
mod resize;
mod saga;
mod steps;
mod sweep;
mod worker;

pub use agent_watch::{AGENT_SILENT, GATEWAY_DOWN};
pub use agents::{AgentStatus, AgentTaskResult};
pub use backups::BACKUP_SCHEDULE_ACTOR;
pub use builder::ProvisionerBuilder;
pub use config::{
    validate_zone, AgentConfig, BackupConfig, DefaultModel, EngineConfig, FirstRunConfig,
    HealthConfig, RollbackPolicy, SweepConfig, Trigger, WorkerConfig,
};
pub use fleet::MAX_BATCH_SIZE;
pub use metrics::MetricsSnapshot;
pub use provisioner::{newest_provisioning_job, Provisioner, BOOTSTRAP_REPEAT_WINDOW};
pub use reseal::ResealReport;
pub use sweep::{SweepMode, SweepReport};
