"""Every error class of the embedded provisioner, raised where it should be, with its code and
fields (the client's are in test_client.py)."""

from __future__ import annotations

import time
import uuid
from typing import Callable, List, Tuple

import pytest

import openclaw
from conftest import S, drive, unique


def test_the_classes_are_what_the_readme_says() -> None:
    assert issubclass(openclaw.NotFound, LookupError)
    assert issubclass(openclaw.InvalidInput, ValueError)
    assert issubclass(openclaw.Timeout, TimeoutError)
    for cls in (
        openclaw.NotFound,
        openclaw.InvalidInput,
        openclaw.Conflict,
        openclaw.InvalidTransition,
        openclaw.RateLimited,
        openclaw.Unavailable,
        openclaw.Unauthorized,
        openclaw.Timeout,
    ):
        assert issubclass(cls, openclaw.Error)
        assert issubclass(cls, Exception)


def test_not_found(provisioner: openclaw.Provisioner) -> None:
    missing = str(uuid.uuid4())
    with pytest.raises(openclaw.NotFound) as caught:
        provisioner.get(missing)
    e = caught.value
    assert isinstance(e, LookupError) and isinstance(e, openclaw.Error)
    assert e.code == "not_found"
    assert e.message and e.message == str(e)
    assert e.status is None, "no server answered"
    with pytest.raises(openclaw.NotFound):
        provisioner.suspend(missing)
    with pytest.raises(openclaw.NotFound):
        provisioner.wait(missing, "active", timeout=5)
    # ``except LookupError`` catches it, as the README promises.
    try:
        provisioner.terminate(missing)
    except LookupError as error:
        assert isinstance(error, openclaw.NotFound)
    else:
        pytest.fail("terminate of an unknown instance raised nothing")


def test_invalid_input_names_the_field(provisioner: openclaw.Provisioner) -> None:
    cases: List[Tuple[str, Callable[[], object]]] = [
        ("id", lambda: provisioner.get("not-a-uuid")),
        ("id", lambda: provisioner.suspend("42")),
        ("plan", lambda: provisioner.create(unique("c"), unique("s"), "no-such-plan", "eu-west")),
        ("region", lambda: provisioner.create(unique("c"), unique("s"), "starter", "mars")),
        ("subdomain", lambda: provisioner.create(unique("c"), "Bad_Sub", "starter", "eu-west")),
        ("subdomain", lambda: provisioner.create(unique("c"), "-dash", "starter", "eu-west")),
        ("customer_id", lambda: provisioner.create("", unique("s"), "starter", "eu-west")),
        ("after", lambda: provisioner.events(after=-1, follow=False)),
    ]
    for field, call in cases:
        with pytest.raises(openclaw.InvalidInput) as caught:
            call()
        e = caught.value
        assert isinstance(e, ValueError) and isinstance(e, openclaw.Error)
        assert e.code == "invalid_input"
        assert e.field == field, (field, e)
        assert e.message
    assert provisioner.list() == [], "nothing invalid was created"


def test_invalid_rollback_level(provisioner: openclaw.Provisioner) -> None:
    inst = provisioner.create(unique("c"), unique("s"), "starter", "eu-west")
    with pytest.raises(openclaw.InvalidInput) as caught:
        provisioner.rollback(inst.id, "sideways")
    assert caught.value.field == "level"


def test_unknown_status_name_is_invalid_input(provisioner: openclaw.Provisioner) -> None:
    with pytest.raises(openclaw.InvalidInput) as caught:
        provisioner.list(status="sleeping")
    assert caught.value.field == "status"


def test_conflict_on_a_subdomain_in_use(provisioner: openclaw.Provisioner) -> None:
    sub = unique("taken")
    provisioner.create(unique("c"), sub, "starter", "eu-west", external_ref=unique("ref"))
    with pytest.raises(openclaw.Conflict) as caught:
        provisioner.create(unique("c"), sub, "starter", "eu-west", external_ref=unique("ref"))
    assert caught.value.code == "conflict"
    assert isinstance(caught.value, openclaw.Error)
    assert len(provisioner.list()) == 1


def test_conflict_on_an_external_ref_reused_with_other_details(provisioner: openclaw.Provisioner) -> None:
    customer, sub, ref = unique("c"), unique("ref-sub"), unique("ref")
    first = provisioner.create(customer, sub, "starter", "eu-west", external_ref=ref)
    with pytest.raises(openclaw.Conflict) as caught:
        provisioner.create(customer, sub, "professional", "eu-west", external_ref=ref)
    assert caught.value.code == "conflict"
    with pytest.raises(openclaw.Conflict):
        provisioner.create(customer, unique("other"), "starter", "eu-west", external_ref=ref)
    assert [i.id for i in provisioner.list()] == [first.id]


def test_invalid_transition(provisioner: openclaw.Provisioner) -> None:
    inst = provisioner.create(unique("c"), unique("t"), "starter", "eu-west")
    drive(provisioner, inst.id, S.ACTIVE)
    provisioner.terminate(inst.id)
    drive(provisioner, inst.id, S.TERMINATED)
    with pytest.raises(openclaw.InvalidTransition) as caught:
        provisioner.suspend(inst.id)
    e = caught.value
    assert e.code == "invalid_transition"
    assert (e.from_status, e.to_status) == ("terminated", "suspending")
    assert isinstance(e, openclaw.Error)
    # A wait for a status a terminated instance never reaches ends at once.
    started = time.monotonic()
    with pytest.raises(openclaw.InvalidTransition) as waited:
        provisioner.wait(inst.id, "active", timeout=30)
    assert time.monotonic() - started < 5
    assert (waited.value.from_status, waited.value.to_status) == ("terminated", "active")
    assert provisioner.get(inst.id).status is S.TERMINATED


def test_timeout(provisioner: openclaw.Provisioner) -> None:
    inst = provisioner.create(unique("c"), unique("slow"), "starter", "eu-west")
    started = time.monotonic()
    with pytest.raises(openclaw.Timeout) as caught:
        provisioner.wait(inst.id, openclaw.InstanceStatus.ACTIVE, timeout=0.2)
    took = time.monotonic() - started
    assert 0.2 <= took < 3, took
    e = caught.value
    assert isinstance(e, TimeoutError) and isinstance(e, openclaw.Error)
    assert e.code == "timeout"
    assert "pending" in e.message
    assert provisioner.get(inst.id).status is S.PENDING, "no workers ran"


def test_errors_repr_shows_code_and_message(provisioner: openclaw.Provisioner) -> None:
    with pytest.raises(openclaw.NotFound) as caught:
        provisioner.get(str(uuid.uuid4()))
    assert repr(caught.value).startswith("NotFound(code='not_found', message=")


def test_client_arguments_are_checked() -> None:
    with pytest.raises(openclaw.InvalidInput) as caught:
        openclaw.Client("ftp://example.invalid", "ock_x")
    assert caught.value.field == "url"
    with pytest.raises(openclaw.InvalidInput) as bad_timeout:
        openclaw.Client("http://127.0.0.1:1", "ock_x", timeout=0)
    assert bad_timeout.value.field == "timeout"
