"""The exceptions of ``openclaw``: one base class with the core's stable error code, and one
subclass per code a caller handles differently."""

from __future__ import annotations

from typing import Any, Optional


class Error(Exception):
    """Any failure of the provisioner or of a server. ``code`` is the core's stable error
    code (``not_found``, ``invalid_input``, ``conflict``, ``invalid_transition``,
    ``rate_limited``, ``unavailable``, ``unauthorized``, ``timeout``, ``internal``, …);
    ``status`` the HTTP status when a server answered."""

    code: str
    status: Optional[int]

    def __init__(self, message: str, *, code: str = "internal", status: Optional[float] = None, **_: Any) -> None:
        super().__init__(message)
        self.code = code
        self.status = int(status) if status is not None else None

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class NotFound(Error, LookupError):
    """The instance (or other thing) does not exist — or is not visible to this key."""


class InvalidInput(Error, ValueError):
    """An argument is invalid; ``field`` names it."""

    field: Optional[str]

    def __init__(self, message: str, *, field: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.field = field


class Conflict(Error):
    """The request conflicts with what exists: a subdomain or external reference in use, a
    stale version, an idempotency key reused for another request."""


class InvalidTransition(Error):
    """The state machine does not allow this: the instance is ``from_status`` and cannot go
    to ``to_status``."""

    from_status: Optional[str]
    to_status: Optional[str]

    def __init__(
        self, message: str, *, from_status: Optional[str] = None, to_status: Optional[str] = None, **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.from_status = from_status
        self.to_status = to_status


class RateLimited(Error):
    """Too many requests for now; ``retry_after`` seconds (when known) until the next try."""

    retry_after: Optional[float]

    def __init__(self, message: str, *, retry_after: Optional[float] = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class Unavailable(Error):
    """A dependency (a provider, the store, the server itself) did not answer; try again."""


class Unauthorized(Error):
    """The API key is missing, wrong, revoked, or lacks the scope this needs."""


class Timeout(Error, TimeoutError):
    """A wait ran out of time (``wait()``), or the server did not answer in time."""
