"""The data types: times read on every Python the package supports, statuses as strings."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import openclaw
from openclaw._types import _parse_rfc3339, _time


def test_times_read_the_same_with_and_without_python_311s_parser() -> None:
    rng = random.Random(7)
    start = datetime(1990, 1, 1, tzinfo=timezone.utc)
    for _ in range(2000):
        moment = start + timedelta(seconds=rng.uniform(0, 60 * 365 * 86400))
        nanos = rng.randrange(10**9)
        digits = rng.choice([0, 1, 3, 6, 9])
        fraction = f".{nanos:09d}"[: digits + 1] if digits else ""
        zone = rng.choice(["Z", "+00:00", "+02:00", "-05:30"])
        text = moment.strftime("%Y-%m-%dT%H:%M:%S") + fraction + zone
        portable = _parse_rfc3339(text)
        assert portable.tzinfo is not None, text
        assert _time(text) == portable, text
        expected_micros = int((fraction[1:] + "000000")[:6]) if fraction else 0
        assert portable.microsecond == expected_micros, text


def test_missing_times_stay_missing_and_naive_ones_are_utc() -> None:
    assert _time(None) is None
    naive = _time("2026-12-01T05:00:00")
    assert naive is not None and naive.tzinfo == timezone.utc


def test_statuses_are_strings() -> None:
    name: str = "active"  # (a literal would trip mypy's strict equality, not Python)
    assert openclaw.InstanceStatus.ACTIVE == name
    assert hash(openclaw.InstanceStatus.ACTIVE) == hash(name)
    assert openclaw.InstanceStatus("suspended") is openclaw.InstanceStatus.SUSPENDED
    assert str(openclaw.InstanceStatus.ROLLED_BACK) == "rolled_back"
    assert openclaw.InstanceStatus.TERMINATED.is_terminal
    assert not openclaw.InstanceStatus.FAILED.is_terminal
    assert {s.value for s in openclaw.InstanceStatus} >= {"pending", "active", "resizing", "failed"}
