#!/usr/bin/env python3
"""A whole life in the sandbox (openclaw-py/README.md), runnable:

    python examples/python/provision.py                           # memory store
    python examples/python/provision.py --store sqlite:///tmp/x.db

The sandbox runs fake Hetzner and Cloudflare on loopback behind the real adapters: no
credentials, nothing real is created. Needs the ``openclaw`` package (``pip install
./openclaw-py``).
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from typing import Optional, Sequence

import openclaw


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="An OpenClaw instance's whole life in the sandbox.")
    parser.add_argument(
        "--store",
        default="memory",
        help='"memory" (default), "sqlite:///path/to/db" or "postgres://…"',
    )
    parser.add_argument(
        "--secrets-file",
        default=None,
        help="where the deployment's keys are kept (default: beside a SQLite database; "
        "./openclaw.secrets for PostgreSQL)",
    )
    args = parser.parse_args(argv)

    # A store that outlives this run already knows "alice" and "whmcs-1001" from the last one.
    suffix = "" if args.store == "memory" else "-" + uuid.uuid4().hex[:8]
    subdomain, reference = "alice" + suffix, "whmcs-1001" + suffix
    started = time.monotonic()

    def say(text: str) -> None:
        print(f"[{time.monotonic() - started:5.2f} s] {text}", flush=True)

    with openclaw.Provisioner.sandbox(args.store, secrets_file=args.secrets_file) as p:
        say(f"sandbox on store {args.store.split('@')[-1]!r}; its API at {p.api_url}")
        p.run_workers()
        inst = p.create(
            "client-7",
            subdomain,
            "starter",
            "eu-west",
            external_ref=reference,
            provider_keys={"ANTHROPIC_API_KEY": "sk-ant-example"},  # sealed; never shown again
        )
        say(f"ordered {inst.id} ({inst.fqdn}): {inst.status}")
        inst = p.wait(inst.id, openclaw.InstanceStatus.ACTIVE, timeout=60)
        say(f"{inst.fqdn} is {inst.status} at {inst.ipv4} (server {inst.server_id})")
        assert inst.status == "active"

        p.suspend(inst.id)
        say(f"suspended: {p.wait(inst.id, 'suspended').status}")
        p.unsuspend(inst.id)
        say(f"unsuspended: {p.wait(inst.id, 'active').status}")
        p.terminate(inst.id)
        say(f"terminated: {p.wait(inst.id, 'terminated').status}")

        say("the event log:")
        for event in p.events(after=0, follow=False):
            if event.instance_id != inst.id:
                continue
            change = f"{event.from_status or '-'} -> {event.to_status}" if event.to_status else event.action
            print(f"  {event.sequence:4d}  {event.kind:15s} {change}: {event.reason}")
    say("closed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
