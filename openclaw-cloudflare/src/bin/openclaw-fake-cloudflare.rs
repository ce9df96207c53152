//! Runs the fake Cloudflare API until interrupted, for the Python client test and the sandbox.
//!
//! Prints, one per line on stdout, `base_url=<url>`, `zone_id=<id>` and `zone_name=<name>`,
//! then serves until SIGINT or SIGTERM.
//!
//! Options: `--listen ADDR` (default `127.0.0.1:0`), `--zone NAME` (default
//! `claw.example.com`), `--token TOKEN` (accept only this token; default: any),
//! `--rate-limit N`, `--window SECS`, `--block SECS`.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use openclaw_cloudflare::fake::{FakeCloudflare, FakeOptions};

struct Args {
    listen: SocketAddr,
    zone: String,
    options: FakeOptions,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        zone: "claw.example.com".to_string(),
        options: FakeOptions::default(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        let seconds = |v: String| {
            v.parse::<u64>()
                .map(Duration::from_secs)
                .map_err(|_| format!("{flag} takes whole seconds"))
        };
        match flag.as_str() {
            "--listen" => {
                args.listen = value()?
                    .parse()
                    .map_err(|_| "--listen takes an address such as 127.0.0.1:8787".to_string())?;
            }
            "--zone" => args.zone = value()?,
            "--token" => args.options.token = Some(value()?),
            "--rate-limit" => {
                args.options.rate_limit.limit = value()?
                    .parse()
                    .map_err(|_| "--rate-limit takes a number".to_string())?;
            }
            "--window" => args.options.rate_limit.window = seconds(value()?)?,
            "--block" => args.options.rate_limit.block = seconds(value()?)?,
            "--help" | "-h" => {
                return Err(
                    "usage: openclaw-fake-cloudflare [--listen ADDR] [--zone NAME] \
                     [--token TOKEN] [--rate-limit N] [--window SECS] [--block SECS]"
                        .to_string(),
                )
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(args)
}

async fn stopped() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            let _ = writeln!(std::io::stderr(), "openclaw-fake-cloudflare: {message}");
            return ExitCode::from(2);
        }
    };
    let fake = match FakeCloudflare::bind(args.listen, args.options).await {
        Ok(fake) => fake,
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "openclaw-fake-cloudflare: cannot listen: {e}"
            );
            return ExitCode::FAILURE;
        }
    };
    let zone_id = fake.create_zone(&args.zone);
    let mut out = std::io::stdout().lock();
    let printed = writeln!(
        out,
        "base_url={}\nzone_id={zone_id}\nzone_name={}",
        fake.base_url(),
        args.zone
    )
    .and_then(|()| out.flush());
    drop(out);
    if printed.is_err() {
        return ExitCode::FAILURE;
    }
    stopped().await;
    fake.stop();
    ExitCode::SUCCESS
}
