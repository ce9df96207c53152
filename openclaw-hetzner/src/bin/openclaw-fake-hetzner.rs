//! Starts a fake Hetzner Cloud API on 127.0.0.1 and prints its base URL as the first line of
//! standard output, then serves until killed.
//!
//! Usage: `openclaw-fake-hetzner [--port PORT] [--action-delay-ms MS]`

use std::io::Write;
use std::time::Duration;

use openclaw_hetzner::fake::{FakeHetzner, FakeOptions};

fn usage(problem: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("{problem}\nusage: openclaw-fake-hetzner [--port PORT] [--action-delay-ms MS]"),
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
