"""``openclaw`` with asyncio: ``Provisioner`` and ``Client`` with the same methods as
coroutines, ``events()`` an async iterator. They run on the same tokio runtime as the
blocking API; cancelling a coroutine (``asyncio.wait_for``, ``task.cancel()``) drops the Rust
work at its next await."""

from __future__ import annotations

from typing import AsyncIterator, Dict, List, Optional

from . import _native
from ._errors import InvalidInput
from ._types import Event, Instance, SweepReport, _events, _instances
from . import Status, _status

__all__ = ["Client", "EventIterator", "Provisioner"]


class EventIterator(AsyncIterator[Event]):
    """Events in sequence order, each once (``async for``)."""

    def __init__(self, native: _native.Native, after: int, follow: bool) -> None:
        self._native = native
        self._after = after
        self._follow = follow
        self._cursor: Optional[_native.NativeCursor] = None

    def __aiter__(self) -> "EventIterator":
        return self

    async def __anext__(self) -> Event:
        if self._cursor is None:
            self._cursor = await self._native.events_async(self._after, self._follow)
        text = await self._cursor.next_async()
        if text is None:
            raise StopAsyncIteration
        return Event._from_json(text)


class _Operations:
    def __init__(self, native: _native.Native) -> None:
        self._native = native

    async def create(
        self,
        customer_id: str,
        subdomain: str,
        plan: str,
        region: str,
        external_ref: Optional[str] = None,
        provider_keys: Optional[Dict[str, str]] = None,
    ) -> Instance:
        """See ``openclaw.Provisioner.create``."""
        text = await self._native.create_async(customer_id, subdomain, plan, region, external_ref, provider_keys)
        return Instance._from_json(text)

    async def get(self, id: str) -> Instance:
        """One instance; ``NotFound`` if there is none."""
        return Instance._from_json(await self._native.get_async(id))

    async def list(self, customer_id: Optional[str] = None, status: Optional[Status] = None) -> List[Instance]:
        """Every instance (of ``customer_id``, in ``status``), oldest first."""
        return _instances(await self._native.list_async(customer_id, _status(status)))

    async def suspend(self, id: str) -> Instance:
        """Powers the instance off."""
        return Instance._from_json(await self._native.operate_async("suspend", id))

    async def unsuspend(self, id: str) -> Instance:
        """Powers a suspended instance back on."""
        return Instance._from_json(await self._native.operate_async("unsuspend", id))

    async def terminate(self, id: str) -> Instance:
        """Deletes the instance's server and DNS records."""
        return Instance._from_json(await self._native.operate_async("terminate", id))

    async def rollback(self, id: str, level: str = "partial") -> Instance:
        """Undoes what provisioning created (``soft``, ``partial`` or ``full``)."""
        return Instance._from_json(await self._native.operate_async("rollback", id, level))

    async def retry(self, id: str) -> Instance:
        """Runs a failed operation again."""
        return Instance._from_json(await self._native.operate_async("retry", id))

    async def change_plan(self, id: str, plan: str) -> Instance:
        """Moves the instance to another plan."""
        return Instance._from_json(await self._native.operate_async("change_plan", id, plan))

    async def instance_events(self, id: str) -> List[Event]:
        """Every event of one instance, oldest first."""
        return _events(await self._native.instance_events_async(id))

    async def sweep(self, dry_run: bool = True) -> SweepReport:
        """Finds (and unless ``dry_run`` deletes) orphaned provider resources."""
        return SweepReport._from_json(await self._native.sweep_async(dry_run))

    def events(self, after: int = 0, follow: bool = True) -> EventIterator:
        """Events after sequence ``after``: ``async for event in p.events(): …``."""
        if after < 0:
            raise InvalidInput("after must be an event sequence (0 or more)", code="invalid_input", field="after")
        return EventIterator(self._native, after, follow)

    async def wait(self, id: str, status: Status, timeout: float = 60.0) -> Instance:
        """Waits until the instance is in ``status`` (see ``openclaw.Provisioner.wait``)."""
        wanted = _status(status)
        assert wanted is not None
        return Instance._from_json(await self._native.wait_async(id, wanted, timeout))


class Provisioner(_Operations):
    """The embedded provisioner with coroutines. ``async with`` closes it."""

    @classmethod
    async def sandbox(
        cls,
        store: str = "memory",
        *,
        secrets_file: Optional[str] = None,
        boot_delay: float = 0.0,
        fake_agents: bool = True,
        database_schema: Optional[str] = None,
        backup_store: Optional[str] = None,
    ) -> "Provisioner":
        """See ``openclaw.Provisioner.sandbox`` (started without blocking the event loop)."""
        import asyncio

        native = await asyncio.get_running_loop().run_in_executor(
            None, lambda: _native.Native.sandbox(store, secrets_file, boot_delay, fake_agents, database_schema, backup_store)
        )
        return cls(native)

    @classmethod
    async def live(
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
        """See ``openclaw.Provisioner.live``."""
        import asyncio

        native = await asyncio.get_running_loop().run_in_executor(
            None,
            lambda: _native.Native.live(
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
            ),
        )
        return cls(native)

    async def run_pending_jobs(self) -> int:
        """Runs every job runnable now; returns how many ran."""
        return await self._native.run_pending_jobs_async()

    def run_workers(self) -> None:
        """Starts the job workers in the background (returns at once)."""
        self._native.run_workers()

    @property
    def workers_running(self) -> bool:
        """Whether the background workers run."""
        return self._native.workers_running

    async def stop(self) -> None:
        """Stops the workers."""
        await self._native.stop_async()

    async def close(self) -> None:
        """Stops the workers, the embedded API and the sandbox's fakes."""
        await self._native.close_async()

    async def __aenter__(self) -> "Provisioner":
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<openclaw.aio.Provisioner api_url={self._native.api_url!r}>"


class Client(_Operations):
    """A running ``openclaw`` server with coroutines."""

    def __init__(self, url: str, api_key: str, *, timeout: float = 30.0) -> None:
        super().__init__(_native.Native.client(url, api_key, timeout))
        self._url = url.rstrip("/")

    async def __aenter__(self) -> "Client":
        return self

    async def __aexit__(self, *_: object) -> None:
        pass

    def __repr__(self) -> str:
        return f"<openclaw.aio.Client url={self._url!r}>"
