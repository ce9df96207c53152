//! The `openclaw` binary: see `openclaw --help` and the crate's README.

use std::process::ExitCode;
use std::str::FromStr;

use clap::Parser;
use openclaw_http::cli::{self, Cli, Command, Io};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Logs go to standard error, filtered by `OPENCLAW_LOG` (`info`, `debug`,
/// `warn,openclaw_core=debug`, …); standard output is for results.
fn init_logging(command: &Command) {
    let default = match command {
        Command::Serve => "info",
        _ => "warn",
    };
    let spec = std::env::var("OPENCLAW_LOG").unwrap_or_else(|_| default.to_string());
    let filter = Targets::from_str(&spec)
        .unwrap_or_else(|_| Targets::new().with_default(tracing::Level::INFO));
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_target(false),
        )
        .with(filter)
        .try_init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.command);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = std::io::Write::write_fmt(
                &mut std::io::stderr(),
                format_args!("openclaw: cannot start the runtime: {e}\n"),
            );
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    runtime.block_on(cli::run(
        cli,
        Io {
            out: &mut out,
            err: &mut err,
        },
    ))
}
