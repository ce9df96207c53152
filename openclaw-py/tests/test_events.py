"""The embedded provisioner's event log: read to its end, resumed after a sequence, followed
live from another thread (the client's stream is in test_client.py)."""

from __future__ import annotations

import threading
import time
from typing import List, Optional

import pytest

import openclaw
from conftest import S, drive, poll, unique


def active_instance(p: openclaw.Provisioner) -> openclaw.Instance:
    inst = p.create(unique("c"), unique("ev"), "starter", "eu-west")
    return drive(p, inst.id, S.ACTIVE)


def test_the_whole_log_then_the_end(provisioner: openclaw.Provisioner) -> None:
    assert list(provisioner.events(after=0, follow=False)) == [], "a new provisioner has no events"
    inst = active_instance(provisioner)
    iterator = provisioner.events(after=0, follow=False)
    assert iter(iterator) is iterator
    events = list(iterator)
    assert next(iterator, None) is None, "an ended iterator stays ended"
    sequences = [e.sequence for e in events]
    assert sequences[0] >= 1
    assert all(a < b for a, b in zip(sequences, sequences[1:])), sequences
    assert [e.sequence for e in provisioner.instance_events(inst.id)] == sequences
    changes = [(e.from_status, e.to_status) for e in events if e.kind == "status_changed"]
    assert changes == [(None, S.PENDING), (S.PENDING, S.PROVISIONING), (S.PROVISIONING, S.ACTIVE)]
    assert {e.topic for e in events if e.kind == "status_changed"} == {"provisioning"}
    assert all(e.instance_id == inst.id for e in events)


def test_resume_after_a_sequence(provisioner: openclaw.Provisioner) -> None:
    active_instance(provisioner)
    active_instance(provisioner)
    everything = [e.sequence for e in provisioner.events(after=0, follow=False)]
    assert len(everything) >= 6
    middle = everything[len(everything) // 2]
    resumed = [e.sequence for e in provisioner.events(after=middle, follow=False)]
    assert resumed == [s for s in everything if s > middle]
    assert resumed and all(s > middle for s in resumed)
    assert list(provisioner.events(after=everything[-1], follow=False)) == []
    assert list(provisioner.events(after=everything[-1] + 1000, follow=False)) == []


def test_without_follow_the_log_ends_where_it_was_when_made(provisioner: openclaw.Provisioner) -> None:
    active_instance(provisioner)
    iterator = provisioner.events(after=0, follow=False)
    end = max(e.sequence for e in provisioner.events(after=0, follow=False))
    later = active_instance(provisioner)
    seen = list(iterator)
    assert seen[-1].sequence == end
    assert later.id not in {e.instance_id for e in seen}


def test_follow_sees_a_new_order_live(provisioner: openclaw.Provisioner) -> None:
    active_instance(provisioner)
    last = max(e.sequence for e in provisioner.events(after=0, follow=False))
    iterator = provisioner.events(after=last, follow=True)
    seen: List[openclaw.Event] = []
    wanted: List[str] = []
    failure: List[BaseException] = []

    def follow() -> None:
        try:
            for event in iterator:
                seen.append(event)
                if wanted and event.instance_id == wanted[0] and event.to_status is S.ACTIVE:
                    return
        except BaseException as error:  # handed to the test's thread
            failure.append(error)

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    time.sleep(0.1)
    assert seen == [], "nothing happened after the last sequence yet"
    inst = provisioner.create(unique("c"), unique("live"), "starter", "eu-west")
    wanted.append(inst.id)
    # The order's first event arrives while the instance is still pending (no workers yet):
    # it is delivered as it happens, not read back later.
    assert poll(lambda: any(e.instance_id == inst.id for e in seen), timeout=5), "no live event"
    assert provisioner.get(inst.id).status is S.PENDING
    provisioner.run_workers()
    thread.join(timeout=20)
    assert not thread.is_alive(), "the follower never saw the instance become active"
    assert failure == []
    sequences = [e.sequence for e in seen]
    assert sequences[0] > last
    assert all(a < b for a, b in zip(sequences, sequences[1:]))
    assert seen[0].instance_id == inst.id and seen[0].to_status is S.PENDING
    changes = [(e.from_status, e.to_status) for e in seen if e.instance_id == inst.id and e.kind == "status_changed"]
    assert changes == [(None, S.PENDING), (S.PENDING, S.PROVISIONING), (S.PROVISIONING, S.ACTIVE)]


def test_after_must_not_be_negative(provisioner: openclaw.Provisioner) -> None:
    with pytest.raises(openclaw.InvalidInput) as caught:
        provisioner.events(after=-5)
    assert caught.value.field == "after"


def test_events_of_each_kind_read_back(provisioner: openclaw.Provisioner) -> None:
    active_instance(provisioner)
    first: Optional[openclaw.Event] = next(provisioner.events(after=0, follow=False), None)
    assert first is not None
    assert first.kind == "status_changed"
    assert first.from_status is None and first.to_status is S.PENDING
    assert first.reason == "order accepted"
    assert first.to_dict()["kind"] == {"type": "status_changed", "from": None, "to": "pending"}
    audits = [e for e in provisioner.events(after=0, follow=False) if e.kind == "audit"]
    for audit in audits:
        assert audit.topic == "audit" and audit.action
        assert audit.from_status is None and audit.to_status is None
