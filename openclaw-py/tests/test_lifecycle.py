"""A whole life on the sandbox with each store, driven by the background workers or by
``run_pending_jobs()`` in the test's own thread; a SQLite store outlives its provisioner."""

from __future__ import annotations

import functools
import time
from pathlib import Path

import pytest

import openclaw
from conftest import S, Store, drive, unique, whole_life


def test_whole_life_with_workers(store: Store) -> None:
    with store.open() as p:
        assert not p.workers_running
        p.run_workers()
        assert p.workers_running
        with_workers = functools.partial(p.wait, timeout=60)
        gone = whole_life(p, lambda id, status: with_workers(id, status))
        assert p.get(gone.id).status is S.TERMINATED
        p.stop()
        assert not p.workers_running


@pytest.mark.parametrize("store", ["memory", "postgres"], indirect=True)
def test_whole_life_with_pending_jobs(store: Store) -> None:
    with store.open() as p:
        gone = whole_life(p, functools.partial(drive, p))
        assert not p.workers_running
        assert p.run_pending_jobs() == 0, "nothing is left to run after a whole life"
        assert p.get(gone.id).status is S.TERMINATED


def test_sqlite_store_survives_reopening(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'x.db'}"
    customer = unique("cust")
    sub = unique("keep")
    with openclaw.Provisioner.sandbox(url) as p:
        first = p.create(customer, sub, "starter", "eu-west", external_ref="whmcs-1")
        active = drive(p, first.id, S.ACTIVE)
    assert (tmp_path / "x.db").exists()
    assert (tmp_path / "x.db.secrets").exists(), "the keys are kept beside the database"
    with openclaw.Provisioner.sandbox(url) as p:
        again = p.get(first.id)
        assert again.status is S.ACTIVE
        assert (again.subdomain, again.ipv4, again.server_id) == (sub, active.ipv4, active.server_id)
        assert [i.id for i in p.list(customer_id=customer)] == [first.id]
        changes = [(e.from_status, e.to_status) for e in p.instance_events(first.id) if e.kind == "status_changed"]
        assert changes == [
            (None, S.PENDING),
            (S.PENDING, S.PROVISIONING),
            (S.PROVISIONING, S.ACTIVE),
        ]
        # The same order again is the same instance: it was remembered.
        assert p.create(customer, sub, "starter", "eu-west", external_ref="whmcs-1").id == first.id
        # And it goes on living.
        p.terminate(first.id)
        assert drive(p, first.id, S.TERMINATED).status is S.TERMINATED


def test_idempotent_order_returns_the_first_instance(provisioner: openclaw.Provisioner) -> None:
    customer, sub, ref = unique("cust"), unique("idem"), unique("ref")
    first = provisioner.create(customer, sub, "starter", "eu-west", external_ref=ref)
    second = provisioner.create(customer, sub, "starter", "eu-west", external_ref=ref)
    assert second.id == first.id
    assert len(provisioner.list(customer_id=customer)) == 1


def test_workers_start_once_and_restart_after_stop(provisioner: openclaw.Provisioner) -> None:
    provisioner.run_workers()
    with pytest.raises(openclaw.Conflict):
        provisioner.run_workers()
    provisioner.stop()
    assert not provisioner.workers_running
    inst = provisioner.create(unique("c"), unique("restart"), "starter", "eu-west")
    provisioner.run_workers()
    assert provisioner.wait(inst.id, "active", timeout=30).status is S.ACTIVE


def test_a_closed_provisioner_refuses_work() -> None:
    p = openclaw.Provisioner.sandbox()
    p.close()
    with pytest.raises(openclaw.Error):
        p.create(unique("c"), unique("closed"), "starter", "eu-west")
    with pytest.raises(openclaw.Unavailable) as caught:
        p.run_workers()
    assert caught.value.code == "unavailable"
    assert not p.workers_running
    with pytest.raises(openclaw.Unavailable):
        p.list()
    with pytest.raises(openclaw.Unavailable):
        p.events(after=0, follow=False)
    p.close()  # a second close does nothing


def test_backups_go_where_backup_store_says(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    there = tmp_path / "elsewhere"
    db = tmp_path / "db" / "x.db"
    db.parent.mkdir()
    with openclaw.Provisioner.sandbox(f"sqlite://{db}", backup_store=str(there)) as p:
        p.create(unique("c"), unique("bk"), "starter", "eu-west")
    assert there.is_dir(), "the backup store named is used"
    assert not (db.parent / "openclaw-backups").exists(), "not the default beside the database"
    with openclaw.Provisioner.sandbox(f"sqlite://{db}") as p:
        assert p.list()
    assert (db.parent / "openclaw-backups").is_dir(), "the default: beside the database"


def test_a_provisioner_dropped_without_close_stops_its_api() -> None:
    import gc
    import urllib.error
    import urllib.request

    p = openclaw.Provisioner.sandbox()
    p.run_workers()
    url = p.api_url
    with urllib.request.urlopen(url + "/healthz", timeout=5) as answer:
        assert answer.status == 200
    del p
    gc.collect()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/healthz", timeout=1).close()
        except (urllib.error.URLError, ConnectionError, OSError):
            return
        time.sleep(0.05)
    raise AssertionError("the dropped provisioner's API still answers")
