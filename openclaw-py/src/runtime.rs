//! The one tokio runtime every object of the module shares (pyo3-async-runtimes' own, so
//! that `openclaw.aio` and the blocking API run on the same threads), and [`wait`]: how a
//! blocking call runs a future — the GIL released, Ctrl-C still heard.

use std::future::Future;
use std::time::Duration;

use pyo3::prelude::*;
use tokio::runtime::Runtime;

/// How often a blocking call takes the GIL back to let Python handle a signal (Ctrl-C).
const SIGNAL_CHECK: Duration = Duration::from_millis(100);

/// The shared runtime.
pub(crate) fn runtime() -> &'static Runtime {
    pyo3_async_runtimes::tokio::get_runtime()
}

/// Runs `future` to its end on the shared runtime from a blocking call: without the GIL
/// (other Python threads go on), taking it back every [`SIGNAL_CHECK`] to run Python's
/// signal handlers. When one raises (`KeyboardInterrupt` on Ctrl-C) the future is dropped —
/// cancelled at its next await — and the exception propagates.
pub(crate) fn wait<F, T>(py: Python<'_>, future: F) -> PyResult<T>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: Send + 'static,
{
    let mut future = Box::pin(future);
    loop {
        let step = py.detach(|| {
            runtime().block_on(async { tokio::time::timeout(SIGNAL_CHECK, &mut future).await })
        });
        match step {
            Ok(done) => return done,
            Err(_elapsed) => py.check_signals()?,
        }
    }
}
