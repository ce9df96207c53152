"""``openclaw.aio``: a whole life with ``await``, ``async for`` over events, cancellation
(``asyncio.wait_for``, ``task.cancel()``), many coroutines at once."""

from __future__ import annotations

import asyncio
import time
from typing import AsyncIterator, List

import pytest
import pytest_asyncio

import openclaw
from conftest import LIFE, S, assert_active, assert_aware, assert_round_trips, unique
from openclaw import aio


@pytest_asyncio.fixture
async def p() -> AsyncIterator[aio.Provisioner]:
    async with await aio.Provisioner.sandbox() as provisioner:
        yield provisioner


@pytest.mark.asyncio
async def test_whole_life_with_await(p: aio.Provisioner) -> None:
    assert repr(p).startswith("<openclaw.aio.Provisioner api_url='http://127.0.0.1:")
    p.run_workers()
    assert p.workers_running
    customer, sub = unique("cust"), unique("aio")
    created = await p.create(customer, sub, "starter", "eu-west", external_ref=unique("ref"))
    assert isinstance(created, openclaw.Instance) and created.status is S.PENDING
    active = await asyncio.wait_for(p.wait(created.id, S.ACTIVE, timeout=60), timeout=60)
    assert_active(active, sub, "starter")
    assert_round_trips(active)
    assert (await p.get(created.id)).status is S.ACTIVE
    assert [i.id for i in await p.list(customer_id=customer, status="active")] == [created.id]
    assert await p.list(customer_id=customer, status="suspended") == []

    assert (await p.suspend(created.id)).status is S.SUSPENDING
    assert (await p.wait(created.id, "suspended")).status is S.SUSPENDED
    assert (await p.unsuspend(created.id)).status is S.UNSUSPENDING
    assert (await p.wait(created.id, "active")).status is S.ACTIVE
    assert (await p.change_plan(created.id, "professional")).status is S.RESIZING
    assert_active(await p.wait(created.id, "active"), sub, "professional")
    assert (await p.terminate(created.id)).status is S.TERMINATING
    gone = await p.wait(created.id, "terminated")
    assert gone.status is S.TERMINATED and gone.server_id is None
    with pytest.raises(openclaw.InvalidTransition) as caught:
        await p.suspend(created.id)
    assert (caught.value.from_status, caught.value.to_status) == ("terminated", "suspending")

    events = await p.instance_events(created.id)
    assert [(e.from_status, e.to_status) for e in events if e.kind == "status_changed"] == LIFE
    streamed: List[openclaw.Event] = []
    async for event in p.events(after=0, follow=False):
        assert isinstance(event, openclaw.Event)
        assert_aware(event.at)
        streamed.append(event)
    assert [e.sequence for e in streamed] == [e.sequence for e in events]
    assert streamed == events
    report = await p.sweep(dry_run=True)
    assert report.dry_run is True and report.orphans == () and report.deleted == ()
    await p.stop()
    assert not p.workers_running


@pytest.mark.asyncio
async def test_async_for_resumes_after_a_sequence(p: aio.Provisioner) -> None:
    inst = await p.create(unique("c"), unique("aio"), "starter", "eu-west")
    while (await p.get(inst.id)).status is not S.ACTIVE:
        if await p.run_pending_jobs() == 0:
            await asyncio.sleep(0.02)
    everything = [e.sequence async for e in p.events(after=0, follow=False)]
    assert len(everything) >= 3
    assert all(a < b for a, b in zip(everything, everything[1:]))
    resumed = [e.sequence async for e in p.events(after=everything[0], follow=False)]
    assert resumed == everything[1:]
    assert [e async for e in p.events(after=everything[-1], follow=False)] == []
    with pytest.raises(openclaw.InvalidInput):
        p.events(after=-1)


@pytest.mark.asyncio
async def test_wait_for_cancels_a_wait_promptly(p: aio.Provisioner) -> None:
    inst = await p.create(unique("c"), unique("stuck"), "starter", "eu-west")
    started = time.monotonic()
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(p.wait(inst.id, "active", timeout=60), 0.2)
    took = time.monotonic() - started
    assert took < 1.0, took
    # The provisioner still answers, and the instance is where it was.
    assert (await p.get(inst.id)).status is S.PENDING
    assert [i.id for i in await p.list()] == [inst.id]
    # An aio Timeout of its own, too.
    with pytest.raises(openclaw.Timeout):
        await p.wait(inst.id, "active", timeout=0.1)


@pytest.mark.asyncio
async def test_cancelling_a_following_iterator_ends_it(p: aio.Provisioner) -> None:
    inst = await p.create(unique("c"), unique("follow"), "starter", "eu-west")
    seen: List[openclaw.Event] = []

    async def follow() -> None:
        async for event in p.events(after=0, follow=True):
            seen.append(event)

    task = asyncio.ensure_future(follow())
    deadline = time.monotonic() + 5
    while not seen and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert [e.instance_id for e in seen] == [inst.id], "the order's event arrived"
    await asyncio.sleep(0.1)  # now it waits for the next event, which never comes
    assert not task.done()
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=2)
    assert time.monotonic() - started < 1.0
    assert task.cancelled()
    assert (await p.get(inst.id)).status is S.PENDING


@pytest.mark.asyncio
async def test_many_coroutines_at_once(p: aio.Provisioner) -> None:
    customer = unique("many")
    subs = [unique(f"g{n}") for n in range(10)]
    created = await asyncio.gather(*(p.create(customer, sub, "starter", "eu-west") for sub in subs))
    assert [i.subdomain for i in created] == subs
    assert len({i.id for i in created}) == 10
    assert all(i.status is S.PENDING for i in created)
    p.run_workers()
    active = await asyncio.gather(*(p.wait(i.id, "active", timeout=60) for i in created))
    assert all(i.status is S.ACTIVE and i.ipv4 for i in active)
    assert len({i.ipv4 for i in active}) == 10
    listed = await p.list(customer_id=customer, status="active")
    assert sorted(i.id for i in listed) == sorted(i.id for i in created)
    # Errors come back through coroutines as the same classes.
    results = await asyncio.gather(
        p.get("not-an-id"), p.create(customer, subs[0], "starter", "eu-west"), return_exceptions=True
    )
    assert isinstance(results[0], openclaw.InvalidInput) and results[0].field == "id"
    assert isinstance(results[1], openclaw.Conflict)
