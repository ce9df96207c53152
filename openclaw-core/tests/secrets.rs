//! Invariant 6: secrets (the bootstrap key, bootstrap tokens, user data) never appear in log
//! lines, events, errors or `Debug` output — checked by capturing every log line at TRACE
//! level while instances are provisioned, rolled back and terminated.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::Harness;
use openclaw_core::bootstrap::BootstrapKey;
use openclaw_core::ports::Health;
use openclaw_core::Error;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test(start_paused = true)]
async fn no_secret_in_logs_events_or_debug() {
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(logs.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let h = Harness::new();
    let key = BootstrapKey::from_bytes([42; 32]);
    let ok = h.create("secret-ok").await;
    let bad = h.create("secret-bad").await;
    h.health
        .script(bad.id, vec![Health::Unhealthy { reason: "x".into() }; 3]);
    h.compute
        .faults()
        .fail_next("create_server", 1, Error::unavailable("hetzner", "reset"));
    h.settle().await;
    h.provisioner.terminate(ok.id).await.unwrap();
    h.settle().await;

    let logged = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logged.contains("status changed"), "logging was captured");
    assert!(
        logged.contains(&ok.id.to_string()),
        "job spans name the instance"
    );

    let mut secrets = vec![key.to_base64().expose().to_string()];
    for id in [ok.id, bad.id] {
        let token = h.bootstrap_token(id).await.expose().to_string();
        // The MAC half is the secret part; the id half is public.
        let (_, mac) = token.split_once('.').unwrap();
        secrets.push(mac.to_string());
    }
    let servers = h.compute.servers();
    let mut events = Vec::new();
    for id in [ok.id, bad.id] {
        events.push(format!("{:?}", h.provisioner.events(id).await.unwrap()));
    }
    let shown = [
        logged,
        events.join("\n"),
        format!("{:?}", h.provisioner),
        format!("{:?}", h.provisioner.config()),
        format!("{servers:?}"),
        format!("{key:?}"),
    ];
    for text in &shown {
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "a secret leaked into: {text}"
            );
        }
        assert!(
            !text.contains("#cloud-config"),
            "user data leaked into: {text}"
        );
    }
}
