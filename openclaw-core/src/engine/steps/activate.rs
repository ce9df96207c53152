//! Step 4: `provisioning → active`. A suspend billing asked for meanwhile is queued in the
//! same write, so it cannot be lost between the two.

use crate::domain::{Instance, InstanceStatus, JobKind, PendingRequest};
use crate::engine::context::Change;
use crate::engine::saga::{Run, StepFailure};
use crate::error::Error;

pub(crate) async fn execute(run: &Run<'_>, instance: Instance) -> Result<Instance, StepFailure> {
    let engine = run.engine;
    let mut current = instance;
    for _ in 0..4 {
        let suspend = current.pending_request == Some(PendingRequest::Suspend);
        let change = Change::to(InstanceStatus::Active, "provisioned and healthy")
            .with_job_if(suspend, JobKind::Suspend);
        match engine.transition(&current, change).await {
            Ok(active) => {
                engine.metrics.provisions_succeeded.incr();
                return Ok(active);
            }
            Err(Error::Conflict { .. }) => {
                current = run.still(&current, InstanceStatus::Provisioning).await?;
            }
            Err(other) => return Err(other.into()),
        }
    }
    Err(Error::conflict("instance kept changing while it was activated").into())
}
