"""Provision managed OpenClaw instances from Python.

``Provisioner`` embeds the provisioner in this process: ``Provisioner.sandbox()`` with fake
Hetzner and Cloudflare behind the real adapters (no credentials), ``Provisioner.live(...)``
with the real ones. ``Client`` drives a running ``openclaw`` server over its HTTP API.
Both block (the GIL released while Rust works; Ctrl-C interrupts a wait); ``openclaw.aio``
has the same classes with coroutines.
"""

from __future__ import annotations

from typing import Dict, Iterator, List, Optional, Union

from . import _native
from ._errors import (
    Conflict,
    Error,
    InvalidInput,
    InvalidTransition,
    NotFound,
    RateLimited,
    Timeout,
    Unauthorized,
    Unavailable,
)
from ._types import Event, Instance, InstanceStatus, LastError, Orphan, SweepReport, _events, _instances

__version__: str = _native.__version__

__all__ = [
    "Client",
    "Conflict",
    "Error",
    "Event",
    "EventIterator",
    "Instance",
    "InstanceStatus",
    "InvalidInput",
    "InvalidTransition",
    "LastError",
    "NotFound",
    "Orphan",
    "Provisioner",
    "RateLimited",
    "SweepReport",
    "Timeout",
    "Unauthorized",
    "Unavailable",
]

Status = Union[InstanceStatus, str]


def _status(status: Optional[Status]) -> Optional[str]:
    if status is None:
        return None
    try:
        return str(InstanceStatus(status).value)
    except ValueError:
        known = ", ".join(s.value for s in InstanceStatus)
        raise InvalidInput(
            f"invalid status: unknown status {status!r}; known: {known}", code="invalid_input", field="status"
        ) from None


class EventIterator(Iterator[Event]):
    """Events in sequence order, each once. With ``follow`` it waits for the next event for
    ever (Ctrl-C interrupts); without, it ends at the end of the log as it was when made."""

    def __init__(self, cursor: _native.NativeCursor) -> None:
        self._cursor = cursor

    def __iter__(self) -> "EventIterator":
        return self

    def __next__(self) -> Event:
        text = self._cursor.next()
        if text is None:
            raise StopIteration
        return Event._from_json(text)


class _Operations:
    """What ``Provisioner`` and ``Client`` both do."""

    def __init__(self, native: _native.Native) -> None:
        self._native = native

    def create(
        self,
        customer_id: str,
        subdomain: str,
        plan: str,
        region: str,
        external_ref: Optional[str] = None,
        provider_keys: Optional[Dict[str, str]] = None,
    ) -> Instance:
        """Accepts an order: the instance comes back ``pending``; provisioning runs in the
        background (workers, or ``run_pending_jobs()``). The same ``external_ref`` with the
        same details returns the first instance; ``provider_keys`` (``ANTHROPIC_API_KEY``, …)
        go sealed to the instance and are never shown again."""
        return Instance._from_json(
            self._native.create(customer_id, subdomain, plan, region, external_ref, provider_keys)
        )

    def get(self, id: str) -> Instance:
        """One instance; ``NotFound`` if there is none."""
        return Instance._from_json(self._native.get(id))

    def list(self, customer_id: Optional[str] = None, status: Optional[Status] = None) -> List[Instance]:
        """Every instance (of ``customer_id``, in ``status``), oldest first."""
        return _instances(self._native.list(customer_id, _status(status)))

    def suspend(self, id: str) -> Instance:
        """Powers the instance off, keeping its server and name."""
        return Instance._from_json(self._native.operate("suspend", id))

    def unsuspend(self, id: str) -> Instance:
        """Powers a suspended instance back on."""
        return Instance._from_json(self._native.operate("unsuspend", id))

    def terminate(self, id: str) -> Instance:
        """Deletes the instance's server and DNS records; the record stays, ``terminated``."""
        return Instance._from_json(self._native.operate("terminate", id))

    def rollback(self, id: str, level: str = "partial") -> Instance:
        """Undoes what provisioning created: ``soft`` (nothing deleted), ``partial``
        (resources deleted, the record kept) or ``full`` (the record too)."""
        return Instance._from_json(self._native.operate("rollback", id, level))

    def retry(self, id: str) -> Instance:
        """Runs a failed operation again."""
        return Instance._from_json(self._native.operate("retry", id))

    def change_plan(self, id: str, plan: str) -> Instance:
        """Moves the instance to another plan (its server's type); ``resizing`` meanwhile."""
        return Instance._from_json(self._native.operate("change_plan", id, plan))

    def instance_events(self, id: str) -> List[Event]:
        """Every event of one instance, oldest first."""
        return _events(self._native.instance_events(id))

    def sweep(self, dry_run: bool = True) -> SweepReport:
        """Finds provider resources no live instance claims; deletes them unless
        ``dry_run``."""
        return SweepReport._from_json(self._native.sweep(dry_run))

    def events(self, after: int = 0, follow: bool = True) -> EventIterator:
        """Events after sequence ``after`` (resume with the last one you saw)."""
        if after < 0:
            raise InvalidInput("after must be an event sequence (0 or more)", code="invalid_input", field="after")
        return EventIterator(self._native.events(after, follow))

    def wait(self, id: str, status: Status, timeout: float = 60.0) -> Instance:
        """Waits until the instance is in ``status``: ``Timeout`` after ``timeout`` seconds,
        ``InvalidTransition`` if it settles where it cannot leave on its own (``failed``,
        ``rolled_back``, ``terminated``). Ctrl-C interrupts it."""
        wanted = _status(status)
        assert wanted is not None
        return Instance._from_json(self._native.wait(id, wanted, timeout))


class Provisioner(_Operations):
    """The provisioner, embedded in this process. Use as a context manager, or ``close()``."""

    @classmethod
    def sandbox(
        cls,
        store: str = "memory",
        *,
        secrets_file: Optional[str] = None,
        boot_delay: float = 0.0,
        fake_agents: bool = True,
        database_schema: Optional[str] = None,
        backup_store: Optional[str] = None,
    ) -> "Provisioner":
        """The sandbox: fake Hetzner and Cloudflare on loopback behind the real adapters, as
        ``openclaw serve`` runs without credentials. ``store``: ``"memory"``,
        ``"sqlite:///path/to/db"`` or ``"postgres://…"`` (``database_schema``: the schema its
        tables go in, created if missing). ``secrets_file``: where the deployment's keys are
        kept (default: none for memory, ``<db>.secrets`` beside SQLite, ``./openclaw.secrets``
        for PostgreSQL). ``backup_store``: where instance backups go — a directory,
        ``s3://bucket/prefix`` or ``memory`` (default: in memory for the memory store,
        ``openclaw-backups`` beside a SQLite database, ``./openclaw-backups`` for PostgreSQL).
        ``boot_delay``: seconds a fake server takes to boot."""
        return cls(_native.Native.sandbox(store, secrets_file, boot_delay, fake_agents, database_schema, backup_store))

    @classmethod
    def live(
        cls,
        *,
        hetzner_token: str,
        cloudflare_token: str,
        zone_id: str,
        zone: str,
        store: str,
        control_plane_url: str,
        listen: str = "127.0.0.1:8080",
        bootstrap_key: Optional[str] = None,
        secrets_key: Optional[str] = None,
        secrets_file: Optional[str] = None,
        deployment: Optional[str] = None,
        backup_store: Optional[str] = None,
    ) -> "Provisioner":
        """Real Hetzner Cloud and Cloudflare. New servers fetch their secrets from
        ``control_plane_url``, which must reach the API this serves on ``listen`` (its
        ``/metrics`` closed by a random token). Live mode never makes the deployment's keys:
        give ``bootstrap_key`` and ``secrets_key`` (32 random bytes each, base64url and
        base64), or a ``secrets_file`` that holds them — else ``InvalidInput``. The database
        remembers the mode: a live one is never opened as a sandbox."""
        return cls(
            _native.Native.live(
                hetzner_token,
                cloudflare_token,
                zone_id,
                zone,
                store,
                control_plane_url,
                listen,
                bootstrap_key,
                secrets_key,
                secrets_file,
                deployment,
                backup_store,
            )
        )

    @property
    def api_url(self) -> str:
        """Where the embedded API (bootstrap, agents) listens."""
        url = self._native.api_url
        assert url is not None
        return url

    def run_pending_jobs(self) -> int:
        """Runs every job runnable now, in this thread; returns how many ran."""
        return self._native.run_pending_jobs()

    def run_workers(self) -> None:
        """Starts the job workers in the background (until ``stop()``)."""
        self._native.run_workers()

    @property
    def workers_running(self) -> bool:
        """Whether the background workers run."""
        return self._native.workers_running

    def stop(self) -> None:
        """Stops the workers: each finishes its step and hands its job back."""
        self._native.stop()

    def close(self) -> None:
        """Stops the workers, the embedded API and the sandbox's fakes."""
        self._native.close()

    def __enter__(self) -> "Provisioner":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<openclaw.Provisioner api_url={self._native.api_url!r}>"


class Client(_Operations):
    """A running ``openclaw`` server, over its HTTP API, with an API key (kept out of every
    ``repr``, log and URL)."""

    def __init__(self, url: str, api_key: str, *, timeout: float = 30.0) -> None:
        super().__init__(_native.Native.client(url, api_key, timeout))
        self._url = url.rstrip("/")

    @property
    def url(self) -> str:
        """The server's base URL."""
        return self._url

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *_: object) -> None:
        pass

    def __repr__(self) -> str:
        return f"<openclaw.Client url={self._url!r}>"
