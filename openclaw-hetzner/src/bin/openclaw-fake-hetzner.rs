//! Starts a fake Hetzner Cloud API on 127.0.0.1 and prints its base URL as the first line of
//! standard output, then serves until killed.
//!
//! Usage: `openclaw-fake-hetzner [--port PORT] [--action-delay-ms MS] [--deleting-ms MS]
//! [--boot-delay-ms MS] [--bootstrap-retry-delay-ms MS] [--bootstrap-attempts N]
//! [--rate-limit N] [--refill-per-second N]`
//!
//! The machines behind its servers answer `GET /__vps/<instance id>/startupz` on the same
//! port (see `openclaw_hetzner::fake::vps`).

use std::io::Write;
use std::time::Duration;

use openclaw_hetzner::fake::{FakeHetzner, FakeOptions};

fn usage(problem: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!(
            "{problem}\nusage: openclaw-fake-hetzner [--port PORT] [--action-delay-ms MS] \
             [--deleting-ms MS] [--boot-delay-ms MS] [--bootstrap-retry-delay-ms MS] \
             [--bootstrap-attempts N] [--rate-limit N] [--refill-per-second N]"
        ),
    )
}

fn options() -> std::io::Result<FakeOptions> {
    let mut options = FakeOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| usage(&format!("{name} needs a number")))
        };
        match arg.as_str() {
            "--port" => {
                options.port =
                    u16::try_from(value("--port")?).map_err(|_| usage("port out of range"))?;
            }
            "--action-delay-ms" => {
                options.action_delay = Duration::from_millis(value("--action-delay-ms")?);
            }
            "--deleting-ms" => {
                options.deleting_for = Duration::from_millis(value("--deleting-ms")?);
            }
            "--boot-delay-ms" => {
                options.vps.boot_delay = Duration::from_millis(value("--boot-delay-ms")?);
            }
            "--bootstrap-retry-delay-ms" => {
                options.vps.bootstrap_retry_delay =
                    Duration::from_millis(value("--bootstrap-retry-delay-ms")?);
            }
            "--bootstrap-attempts" => {
                options.vps.bootstrap_attempts = u32::try_from(value("--bootstrap-attempts")?)
                    .map_err(|_| usage("--bootstrap-attempts out of range"))?;
            }
            "--rate-limit" => {
                options.rate_limit = u32::try_from(value("--rate-limit")?)
                    .map_err(|_| usage("--rate-limit out of range"))?;
            }
            "--refill-per-second" => {
                options.refill_per_second = value("--refill-per-second")? as f64;
            }
            other => return Err(usage(&format!("unknown argument {other:?}"))),
        }
    }
    Ok(options)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let fake = FakeHetzner::start_with(options()?).await?;
    // The first line is the contract with scripts that start us: the base URL, flushed at
    // once because stdout is a pipe or a file there.
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", fake.base_url())?;
    stdout.flush()?;
    drop(stdout);
    std::future::pending::<()>().await;
    Ok(())
}
