"""What the provisioner answers with: ``Instance``, ``Event``, ``InstanceStatus`` and
``SweepReport``. Immutable; ``to_dict()`` gives the API's JSON shape. None of them holds a
secret, so no ``repr`` can show one."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Tuple


class InstanceStatus(str, enum.Enum):
    """Where an instance is in its life. Members compare equal to their names as strings:
    ``InstanceStatus.ACTIVE == "active"``."""

    PENDING = "pending"
    PROVISIONING = "provisioning"
    ACTIVE = "active"
    SUSPENDING = "suspending"
    SUSPENDED = "suspended"
    UNSUSPENDING = "unsuspending"
    RESIZING = "resizing"
    TERMINATING = "terminating"
    TERMINATED = "terminated"
    ROLLING_BACK = "rolling_back"
    ROLLED_BACK = "rolled_back"
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value

    @property
    def is_terminal(self) -> bool:
        """Whether nothing more happens to an instance in this status."""
        return self in (InstanceStatus.TERMINATED, InstanceStatus.ROLLED_BACK)


def _time(text: Optional[str]) -> Optional[datetime]:
    """An RFC 3339 time from the API (``Z``, up to nine fractional digits) as an aware
    datetime, on any Python >= 3.9."""
    if text is None:
        return None
    try:
        # Python 3.11 and later read the API's form directly (and fast).
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = _parse_rfc3339(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _parse_rfc3339(text: str) -> datetime:
    """What ``datetime.fromisoformat`` reads only from Python 3.11: ``Z`` for UTC and more
    than six fractional digits (cut to microseconds)."""
    text = text.replace("Z", "+00:00").replace("z", "+00:00")
    if "." in text:
        head, rest = text.split(".", 1)
        digits, zone = rest, ""
        for sign in ("+", "-"):
            if sign in rest:
                digits, zone = rest.split(sign, 1)
                zone = sign + zone
                break
        text = f"{head}.{(digits + '000000')[:6]}{zone}"
    return datetime.fromisoformat(text)


def _required_time(text: str) -> datetime:
    moment = _time(text)
    assert moment is not None
    return moment


@dataclass(frozen=True)
class LastError:
    """The error that stopped an instance's last operation."""

    operation: str
    code: str
    message: str
    at: datetime


@dataclass(frozen=True)
class Instance:
    """An instance as the API shows it."""

    id: str
    customer_id: str
    external_ref: Optional[str]
    subdomain: str
    fqdn: str
    plan: str
    region: str
    status: InstanceStatus
    version: int
    created_at: datetime
    updated_at: datetime
    status_changed_at: datetime
    activated_at: Optional[datetime]
    server_id: Optional[str]
    ipv4: Optional[str]
    ipv6: Optional[str]
    dns_record_ids: Tuple[str, ...]
    last_error: Optional[LastError]
    pending_request: Optional[str]
    plan_change: Optional[Dict[str, Any]]
    _raw: Dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_dict(cls, raw: Dict[str, Any]) -> "Instance":
        """An instance from the API's JSON object."""
        resources = raw.get("resources") or {}
        error = raw.get("last_error")
        return cls(
            id=raw["id"],
            customer_id=raw["customer_id"],
            external_ref=raw.get("external_ref"),
            subdomain=raw["subdomain"],
            fqdn=raw["fqdn"],
            plan=raw["plan"],
            region=raw["region"],
            status=InstanceStatus(raw["status"]),
            version=int(raw["version"]),
            created_at=_required_time(raw["created_at"]),
            updated_at=_required_time(raw["updated_at"]),
            status_changed_at=_required_time(raw["status_changed_at"]),
            activated_at=_time(raw.get("activated_at")),
            server_id=resources.get("server_id"),
            ipv4=resources.get("ipv4"),
            ipv6=resources.get("ipv6"),
            dns_record_ids=tuple(resources.get("dns_record_ids") or ()),
            last_error=(
                LastError(error["operation"], error["code"], error["message"], _required_time(error["at"]))
                if error
                else None
            ),
            pending_request=raw.get("pending_request"),
            plan_change=raw.get("plan_change"),
            _raw=raw,
        )

    @classmethod
    def _from_json(cls, text: str) -> "Instance":
        return cls.from_dict(json.loads(text))

    def to_dict(self) -> Dict[str, Any]:
        """The API's JSON object (a copy)."""
        return json.loads(json.dumps(self._raw))  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Event:
    """One event of the log: a status change, an alert or an audited action."""

    sequence: int
    topic: str
    instance_id: Optional[str]
    kind: str
    from_status: Optional[InstanceStatus]
    to_status: Optional[InstanceStatus]
    code: Optional[str]
    action: Optional[str]
    actor: Optional[str]
    reason: str
    at: datetime
    _raw: Dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_dict(cls, raw: Dict[str, Any]) -> "Event":
        """An event from the API's JSON object."""
        kind = raw["kind"]
        before = kind.get("from")
        after = kind.get("to")
        return cls(
            sequence=int(raw["sequence"]),
            topic=raw["topic"],
            instance_id=raw.get("instance_id"),
            kind=kind["type"],
            from_status=InstanceStatus(before) if before else None,
            to_status=InstanceStatus(after) if after else None,
            code=kind.get("code"),
            action=kind.get("action"),
            actor=kind.get("actor"),
            reason=raw["reason"],
            at=_required_time(raw["at"]),
            _raw=raw,
        )

    @classmethod
    def _from_json(cls, text: str) -> "Event":
        return cls.from_dict(json.loads(text))

    def to_dict(self) -> Dict[str, Any]:
        """The API's JSON object (a copy)."""
        return json.loads(json.dumps(self._raw))  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Orphan:
    """A provider resource no live instance claims."""

    id: str
    name: str
    kind: str


@dataclass(frozen=True)
class SweepReport:
    """What a sweep found and, unless ``dry_run``, deleted."""

    dry_run: bool
    orphans: Tuple[Orphan, ...]
    deleted: Tuple[str, ...]
    errors: Tuple[str, ...]

    @classmethod
    def _from_json(cls, text: str) -> "SweepReport":
        raw = json.loads(text)
        return cls(
            dry_run=bool(raw["dry_run"]),
            orphans=tuple(Orphan(o["id"], o["name"], o["kind"]) for o in raw["orphans"]),
            deleted=tuple(raw["deleted"]),
            errors=tuple(raw["errors"]),
        )

    def to_dict(self) -> Dict[str, Any]:
        """The API's JSON object."""
        return {
            "dry_run": self.dry_run,
            "orphans": [{"id": o.id, "name": o.name, "kind": o.kind} for o in self.orphans],
            "deleted": list(self.deleted),
            "errors": list(self.errors),
        }


def _instances(text: str) -> List[Instance]:
    return [Instance.from_dict(raw) for raw in json.loads(text)]


def _events(text: str) -> List[Event]:
    return [Event.from_dict(raw) for raw in json.loads(text)]
