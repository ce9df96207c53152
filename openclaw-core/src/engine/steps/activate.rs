//! Step 4: `provisioning → active`.

use crate::domain::{Instance, InstanceStatus};
use crate::engine::context::Change;
use crate::engine::saga::{Run, StepFailure};
use crate::error::Error;

pub(crate) async fn execute(run: &Run<'_>, instance: Instance) -> Result<Instance, StepFailure> {
    let engine = run.engine;
    let mut current = instance;
    for _ in 0..4 {
        let change = Change::to(InstanceStatus::Active, "provisioned and healthy");
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
