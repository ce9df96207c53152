//! The health probe the engine waits on: `GET /startupz` of the instance's gateway.
//!
//! Live, that is `https://<fqdn>/startupz` through the instance's Caddy; in the sandbox it is
//! the fake machine's `GET <fake Hetzner>/__vps/<instance id>/startupz`. Both are read the
//! same way: 200 is healthy; 503 or no answer at all (refused, reset, timed out, a TLS
//! certificate not issued yet) is still starting; any other answer is unhealthy and counts
//! against the instance.

use std::time::Duration;

use async_trait::async_trait;
use openclaw_core::domain::Instance;
use openclaw_core::ports::{Health, HealthProbe};

/// Where the probe sends its request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeTarget {
    /// `https://<fqdn>/startupz`: the gateway itself, through the instance's proxy.
    Https,
    /// `<base>/<instance id>/startupz`: a fake machine (the sandbox).
    FakeVps {
        /// The fake's machine base, `http://127.0.0.1:<port>/__vps`.
        base: String,
    },
}

/// A [`HealthProbe`] on `GET /startupz`.
#[derive(Debug, Clone)]
pub struct StartupzProbe {
    client: reqwest::Client,
    target: ProbeTarget,
}

impl StartupzProbe {
    /// A probe of `target` whose every check gives up after `timeout`.
    pub fn new(target: ProbeTarget, timeout: Duration) -> openclaw_core::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            // A redirect would be the proxy misconfigured; it must not be followed to
            // somewhere else and pass as healthy.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("openclaw-health/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| openclaw_core::Error::internal(format!("health client: {e}")))?;
        Ok(StartupzProbe { client, target })
    }

    /// The URL checked for `instance`.
    pub fn url(&self, instance: &Instance) -> String {
        match &self.target {
            ProbeTarget::Https => format!("https://{}/startupz", instance.fqdn),
            ProbeTarget::FakeVps { base } => {
                format!("{}/{}/startupz", base.trim_end_matches('/'), instance.id)
            }
        }
    }
}

/// How an answer (or its absence) reads.
pub fn classify(status: Option<u16>) -> Health {
    match status {
        Some(200) => Health::Healthy,
        None | Some(503) => Health::Starting,
        Some(other) => Health::Unhealthy {
            reason: format!("GET /startupz answered {other}"),
        },
    }
}

#[async_trait]
impl HealthProbe for StartupzProbe {
    async fn check(&self, instance: &Instance) -> Health {
        let status = match self.client.get(self.url(instance)).send().await {
            Ok(response) => Some(response.status().as_u16()),
            Err(error) => {
                tracing::debug!(instance = %instance.id, error = %error, "gateway not answering yet");
                None
            }
        };
        classify(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_as_the_gateway_means_them() {
        assert_eq!(classify(Some(200)), Health::Healthy);
        assert_eq!(classify(Some(503)), Health::Starting);
        assert_eq!(classify(None), Health::Starting);
        assert!(matches!(classify(Some(404)), Health::Unhealthy { .. }));
        assert!(matches!(classify(Some(500)), Health::Unhealthy { .. }));
    }
}
