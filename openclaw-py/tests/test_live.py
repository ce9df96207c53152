"""``Provisioner.live`` without reaching a provider: it refuses to start without the
deployment's keys (live mode never makes them), and with them it starts, takes orders and
serves its API — the jobs that would call Hetzner and Cloudflare are never run here."""

from __future__ import annotations

import base64
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Dict

import pytest

import openclaw
from conftest import unique


def settings(tmp_path: Path) -> Dict[str, Any]:
    return dict(
        hetzner_token="h" * 64,
        cloudflare_token="c" * 40,
        zone_id="a" * 32,
        zone="claw.example.com",
        store=f"sqlite://{tmp_path / 'live.db'}",
        control_plane_url="https://cp.example.com",
        secrets_file=str(tmp_path / "missing.secrets"),
        listen="127.0.0.1:0",
    )


def test_live_mode_needs_the_deployment_keys(tmp_path: Path) -> None:
    with pytest.raises(openclaw.InvalidInput) as caught:
        openclaw.Provisioner.live(**settings(tmp_path))
    assert caught.value.field == "bootstrap_key"
    assert "never generates" in caught.value.message


def test_live_mode_starts_and_takes_orders(tmp_path: Path) -> None:
    bootstrap = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
    sealing = base64.b64encode(os.urandom(32)).decode()
    with openclaw.Provisioner.live(bootstrap_key=bootstrap, secrets_key=sealing, **settings(tmp_path)) as p:
        assert p.list() == []
        inst = p.create(unique("c"), unique("live"), "starter", "eu-west")
        assert inst.status is openclaw.InstanceStatus.PENDING
        assert inst.fqdn.endswith(".claw.example.com")
        with pytest.raises(openclaw.InvalidInput):
            p.create(unique("c"), unique("live"), "no-such-plan", "eu-west")
        # Its API answers (new servers fetch their secrets there), /metrics closed by a token.
        with urllib.request.urlopen(p.api_url + "/healthz", timeout=5) as answer:
            assert answer.status == 200
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(p.api_url + "/metrics", timeout=5)
        assert refused.value.code == 401
    # The mode is recorded: the same database opened as a sandbox is refused.
    with pytest.raises(openclaw.Error) as caught:
        openclaw.Provisioner.sandbox(f"sqlite://{tmp_path / 'live.db'}")
    assert "live" in caught.value.message
