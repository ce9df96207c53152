"""``openclaw.Client`` (and ``openclaw.aio.Client``) against a running ``openclaw serve``:
a whole life, the server's errors as the same classes, customer-bound and read-only keys,
the event stream (to its end, resumed, followed live), rate limiting."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from typing import Callable, List

import pytest

import openclaw
from conftest import S, Server, free_port, poll, unique, whole_life
from openclaw import aio


def test_whole_life(server: Server, admin: openclaw.Client) -> None:
    assert admin.url == server.url
    gone = whole_life(admin, lambda id, status: admin.wait(id, status, timeout=60))
    assert admin.get(gone.id).status is S.TERMINATED
    report = admin.sweep(dry_run=True)
    assert isinstance(report, openclaw.SweepReport)
    assert report.dry_run is True
    assert report.deleted == () and report.errors == ()
    assert report.to_dict() == {"dry_run": True, "orphans": [], "deleted": [], "errors": []}


def test_the_servers_errors(server: Server, admin: openclaw.Client) -> None:
    with pytest.raises(openclaw.NotFound) as not_found:
        admin.get(str(uuid.uuid4()))
    assert isinstance(not_found.value, LookupError)
    assert (not_found.value.code, not_found.value.status) == ("not_found", 404)

    with pytest.raises(openclaw.InvalidInput) as bad_plan:
        admin.create(unique("c"), unique("s"), "no-such-plan", "eu-west")
    assert isinstance(bad_plan.value, ValueError)
    assert bad_plan.value.code == "invalid_input" and bad_plan.value.field == "plan"
    assert bad_plan.value.status is not None and 400 <= bad_plan.value.status < 500

    with pytest.raises(openclaw.InvalidInput) as bad_sub:
        admin.create(unique("c"), "Bad_Sub", "starter", "eu-west")
    assert bad_sub.value.field == "subdomain"

    with pytest.raises(openclaw.InvalidInput) as bad_id:
        admin.get("not/an id")  # refused before it reaches a URL
    assert bad_id.value.field == "id" and bad_id.value.status is None

    with pytest.raises(openclaw.InvalidInput) as server_bad_id:
        admin.get("not-a-uuid")  # refused by the server
    assert server_bad_id.value.status is not None and 400 <= server_bad_id.value.status < 500

    customer, sub = unique("c"), unique("dup")
    first = admin.create(customer, sub, "starter", "eu-west", external_ref=unique("ref"))
    with pytest.raises(openclaw.Conflict) as conflict:
        admin.create(unique("c"), sub, "starter", "eu-west", external_ref=unique("ref"))
    assert (conflict.value.code, conflict.value.status) == ("conflict", 409)

    admin.terminate(first.id)
    admin.wait(first.id, "terminated", timeout=60)
    with pytest.raises(openclaw.InvalidTransition) as refused:
        admin.suspend(first.id)
    e = refused.value
    assert e.code == "invalid_transition" and e.status == 409
    assert (e.from_status, e.to_status) == ("terminated", "suspending")

    inst = admin.create(unique("c"), unique("slow"), "starter", "eu-west")
    with pytest.raises(openclaw.Timeout) as timeout:
        admin.wait(inst.id, "suspended", timeout=0.05)
    assert isinstance(timeout.value, TimeoutError) and timeout.value.code == "timeout"


def test_a_wrong_key_is_unauthorized(server: Server) -> None:
    key = "ock_wrongwrongwr.NotTheSecretAtAll0123456789abcdefghijklmn"
    client = openclaw.Client(server.url, key)
    with pytest.raises(openclaw.Unauthorized) as caught:
        client.list()
    e = caught.value
    assert isinstance(e, openclaw.Error)
    assert (e.code, e.status) == ("unauthorized", 401)
    assert key not in str(e) and key not in repr(e)
    with pytest.raises(openclaw.Unauthorized):
        client.events(after=0, follow=False)


def test_a_closed_port_is_unavailable() -> None:
    client = openclaw.Client(f"http://127.0.0.1:{free_port()}", "ock_x.y", timeout=5)
    started = time.monotonic()
    with pytest.raises(openclaw.Unavailable) as caught:
        client.get(str(uuid.uuid4()))
    assert time.monotonic() - started < 5
    e = caught.value
    assert isinstance(e, openclaw.Error)
    assert e.code == "unavailable" and e.status is None
    with pytest.raises(openclaw.Unavailable):
        client.list()


def test_a_silent_server_times_out() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)  # accepts connections (the kernel does), never answers
        client = openclaw.Client(f"http://127.0.0.1:{listener.getsockname()[1]}", "ock_x.y", timeout=0.5)
        started = time.monotonic()
        with pytest.raises(openclaw.Error) as caught:
            client.list()
        assert time.monotonic() - started < 5
        assert isinstance(caught.value, openclaw.Timeout), repr(caught.value)


def test_a_customer_bound_key_sees_only_its_customer(server: Server, admin: openclaw.Client) -> None:
    mine, theirs = unique("cust"), unique("cust")
    own = admin.create(mine, unique("mine"), "starter", "eu-west")
    other = admin.create(theirs, unique("theirs"), "starter", "eu-west")
    bound = openclaw.Client(server.url, server.create_key("c", "manage", customer=mine))
    assert [i.id for i in bound.list()] == [own.id]
    assert bound.get(own.id).id == own.id
    with pytest.raises(openclaw.NotFound) as caught:
        bound.get(other.id)
    assert caught.value.status == 404
    with pytest.raises(openclaw.NotFound):
        bound.suspend(other.id)
    with pytest.raises(openclaw.NotFound):
        bound.instance_events(other.id)
    assert bound.list(customer_id=theirs) == []
    # Its event stream (it may not read the overview: it ends at a pause) is its own.
    seen = list(bound.events(after=0, follow=False))
    assert seen and {e.instance_id for e in seen} == {own.id}


def test_a_read_key_may_not_change_anything(server: Server, admin: openclaw.Client) -> None:
    inst = admin.create(unique("c"), unique("ro"), "starter", "eu-west")
    reader = openclaw.Client(server.url, server.create_key("reader", "read"))
    assert reader.get(inst.id).id == inst.id
    with pytest.raises(openclaw.Unauthorized) as caught:
        reader.suspend(inst.id)
    assert caught.value.status == 403
    with pytest.raises(openclaw.Unauthorized):
        reader.create(unique("c"), unique("ro"), "starter", "eu-west")


def test_events_to_the_end_and_resumed(admin: openclaw.Client) -> None:
    inst = admin.create(unique("c"), unique("ev"), "starter", "eu-west")
    admin.wait(inst.id, "active", timeout=60)
    events = list(admin.events(after=0, follow=False))
    sequences = [e.sequence for e in events]
    assert sequences and all(a < b for a, b in zip(sequences, sequences[1:])), sequences
    mine = [(e.from_status, e.to_status) for e in events if e.instance_id == inst.id and e.kind == "status_changed"]
    assert mine == [(None, S.PENDING), (S.PENDING, S.PROVISIONING), (S.PROVISIONING, S.ACTIVE)]
    own_sequences = [e.sequence for e in admin.instance_events(inst.id)]
    assert own_sequences == [e.sequence for e in events if e.instance_id == inst.id]
    middle = own_sequences[1]
    resumed = [e.sequence for e in admin.events(after=middle, follow=False)]
    expected = [s for s in sequences if s > middle]
    # (The session's server may have logged more since: what follows is its own.)
    assert resumed[: len(expected)] == expected
    assert all(s > middle for s in resumed)
    assert list(admin.events(after=sequences[-1], follow=False)) == []


def test_follow_sees_a_new_order_live(admin: openclaw.Client) -> None:
    last = max(e.sequence for e in admin.events(after=0, follow=False))
    seen: List[openclaw.Event] = []
    wanted: List[str] = []
    failure: List[BaseException] = []
    iterator = admin.events(after=last, follow=True)

    def follow() -> None:
        try:
            for event in iterator:
                seen.append(event)
                if wanted and event.instance_id == wanted[0] and event.to_status is S.ACTIVE:
                    return
        except BaseException as error:
            failure.append(error)

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    inst = admin.create(unique("c"), unique("live"), "starter", "eu-west")
    wanted.append(inst.id)
    thread.join(timeout=30)
    assert not thread.is_alive(), f"the follower saw {seen}"
    assert failure == []
    sequences = [e.sequence for e in seen]
    assert sequences[0] > last
    assert all(a < b for a, b in zip(sequences, sequences[1:]))
    mine = [(e.from_status, e.to_status) for e in seen if e.instance_id == inst.id and e.kind == "status_changed"]
    assert mine == [(None, S.PENDING), (S.PENDING, S.PROVISIONING), (S.PROVISIONING, S.ACTIVE)]

    # Resuming after the last one seen goes on from there.
    resumed: List[openclaw.Event] = []
    again = admin.events(after=sequences[-1], follow=True)

    def resume() -> None:
        for event in again:
            resumed.append(event)
            if event.instance_id == inst.id and event.to_status is S.SUSPENDED:
                return

    follower = threading.Thread(target=resume, daemon=True)
    follower.start()
    admin.suspend(inst.id)
    follower.join(timeout=30)
    assert not follower.is_alive(), f"the resumed follower saw {resumed}"
    assert resumed[0].sequence > sequences[-1]
    assert all(a.sequence < b.sequence for a, b in zip(resumed, resumed[1:]))
    mine = [(e.from_status, e.to_status) for e in resumed if e.instance_id == inst.id]
    assert mine == [(S.ACTIVE, S.SUSPENDING), (S.SUSPENDING, S.SUSPENDED)]


def test_rate_limited(make_server: Callable[[str], Server]) -> None:
    server = make_server("\n[http.rate_limit]\nburst = 3\nper_second = 0.2\n")
    client = openclaw.Client(server.url, server.admin_key)
    caught: List[openclaw.RateLimited] = []
    for _ in range(30):
        try:
            client.list()
        except openclaw.RateLimited as error:
            caught.append(error)
            break
    assert caught, "30 quick calls against a burst of 3 were never limited"
    e = caught[0]
    assert isinstance(e, openclaw.Error)
    assert (e.code, e.status) == ("rate_limited", 429)
    assert e.retry_after is not None and e.retry_after > 0
    # Another key has a budget of its own.
    other = openclaw.Client(server.url, server.create_key("other", "read"))
    assert other.list() == []


@pytest.mark.asyncio
async def test_aio_client(server: Server) -> None:
    client = aio.Client(server.url, server.admin_key)
    assert server.admin_key not in repr(client)
    async with client as c:
        customer = unique("aio")
        inst = await c.create(customer, unique("aio"), "starter", "eu-west")
        active = await c.wait(inst.id, "active", timeout=60)
        assert active.status is S.ACTIVE and active.ipv4
        assert [i.id for i in await c.list(customer_id=customer)] == [inst.id]
        with pytest.raises(openclaw.NotFound):
            await c.get(str(uuid.uuid4()))
        sequences = [e.sequence async for e in c.events(after=0, follow=False)]
        assert all(a < b for a, b in zip(sequences, sequences[1:]))
        own = [e.sequence for e in await c.instance_events(inst.id)]
        assert set(own) <= set(sequences)
        assert (await c.terminate(inst.id)).status is S.TERMINATING
        assert (await c.wait(inst.id, "terminated", timeout=60)).status is S.TERMINATED
        assert (await c.sweep()).dry_run is True


def test_the_server_stops_on_sigterm(make_server: Callable[[str], Server]) -> None:
    server = make_server("")
    client = openclaw.Client(server.url, server.admin_key, timeout=5)
    assert client.list() == []
    assert server.stop() == 0
    assert poll(lambda: server.process.poll() is not None, timeout=1)
    with pytest.raises(openclaw.Unavailable):
        client.list()
