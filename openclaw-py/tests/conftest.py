"""Fixtures of the openclaw bindings' tests: sandbox provisioners on each store (memory,
SQLite, PostgreSQL), and a running ``openclaw serve`` (sandbox mode, SQLite) for the client.

Environment:

- ``OPENCLAW_SERVER_BIN``: the ``openclaw`` binary (default: ``target/debug/openclaw``);
- ``DATABASE_URL``: the PostgreSQL for the PostgreSQL tests (default the local one); each test
  session puts its tables in a schema of its own (``py_<random hex>``), dropped at the end;
- ``CI=true``: what cannot run (no PostgreSQL, no binary) fails instead of being skipped.
"""

from __future__ import annotations

import ipaddress
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple, Union
from urllib.parse import urlparse

import pytest

import openclaw

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DATABASE_URL = "postgres://postgres:postgres@127.0.0.1:5432/test"
ADMIN_KEY_LINE = "admin API key (shown once, store it now):"
KEY_PATTERN = re.compile(r"ock_[A-Za-z0-9._-]+")


def in_ci() -> bool:
    """Whether this runs in CI, where nothing may be skipped."""
    return os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str) -> None:
    """Skips the test, saying why; fails it in CI."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: this must not be skipped)", pytrace=False)
    pytest.skip(reason)


def unique(prefix: str) -> str:
    """A name no other test (nor run) uses: a valid subdomain, customer id or reference."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def drive(
    p: openclaw.Provisioner, id: str, status: openclaw.InstanceStatus, timeout: float = 30.0
) -> openclaw.Instance:
    """Runs the pending jobs in this thread (no workers) until the instance is in
    ``status``; fails the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        inst = p.get(id)
        if inst.status is status:
            return inst
        if time.monotonic() > deadline:
            pytest.fail(f"instance {id} is {inst.status}, not {status}, after {timeout} s")
        if p.run_pending_jobs() == 0:
            time.sleep(0.02)


def poll(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Whether ``condition`` comes true within ``timeout`` seconds (checked every 10 ms)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


# --- a whole life ---------------------------------------------------------------------------

Ops = Union[openclaw.Provisioner, openclaw.Client]
Advance = Callable[[str, openclaw.InstanceStatus], openclaw.Instance]
S = openclaw.InstanceStatus

#: The status changes of a whole life, in order.
LIFE: List[Tuple[Optional[openclaw.InstanceStatus], openclaw.InstanceStatus]] = [
    (None, S.PENDING),
    (S.PENDING, S.PROVISIONING),
    (S.PROVISIONING, S.ACTIVE),
    (S.ACTIVE, S.SUSPENDING),
    (S.SUSPENDING, S.SUSPENDED),
    (S.SUSPENDED, S.UNSUSPENDING),
    (S.UNSUSPENDING, S.ACTIVE),
    (S.ACTIVE, S.RESIZING),
    (S.RESIZING, S.ACTIVE),
    (S.ACTIVE, S.TERMINATING),
    (S.TERMINATING, S.TERMINATED),
]


def assert_aware(moment: Optional[datetime]) -> None:
    """A timezone-aware time in UTC."""
    assert moment is not None
    assert moment.tzinfo is not None
    assert moment.utcoffset() == timedelta(0)


def assert_round_trips(inst: openclaw.Instance) -> None:
    """``to_dict()`` is the API's JSON shape and reads back as the same instance."""
    raw = inst.to_dict()
    assert json.loads(json.dumps(raw)) == raw
    assert raw["id"] == inst.id
    assert raw["status"] == inst.status.value
    assert raw["subdomain"] == inst.subdomain
    assert raw["plan"] == inst.plan
    assert raw["resources"]["ipv4"] == inst.ipv4
    assert raw["resources"]["server_id"] == inst.server_id
    assert tuple(raw["resources"]["dns_record_ids"]) == inst.dns_record_ids
    assert raw["created_at"].endswith("Z")
    assert openclaw.Instance.from_dict(raw) == inst
    raw["status"] = "bogus-changed"
    assert inst.to_dict()["status"] == inst.status.value, "to_dict() must hand out a copy"


def assert_active(inst: openclaw.Instance, subdomain: str, plan: str) -> None:
    assert inst.status == "active"
    assert inst.status is openclaw.InstanceStatus.ACTIVE
    assert str(inst.status) == "active"
    assert inst.subdomain == subdomain
    assert inst.fqdn.startswith(subdomain + ".") and len(inst.fqdn) > len(subdomain) + 1
    assert inst.plan == plan
    assert inst.ipv4 is not None
    ipaddress.IPv4Address(inst.ipv4)
    assert inst.server_id
    assert len(inst.dns_record_ids) >= 1
    assert inst.last_error is None
    assert inst.plan_change is None
    for moment in (inst.created_at, inst.updated_at, inst.status_changed_at, inst.activated_at):
        assert_aware(moment)
    assert inst.activated_at is not None and inst.created_at <= inst.activated_at <= inst.updated_at


def whole_life(ops: Ops, advance: Advance, customer: Optional[str] = None) -> openclaw.Instance:
    """create → active → suspend → suspended → unsuspend → active → professional → active →
    terminate → terminated, checking what each step answers; the terminated instance."""
    customer = customer or unique("cust")
    sub = unique("life")
    ref = unique("ref")
    created = ops.create(customer, sub, "starter", "eu-west", external_ref=ref)
    assert created.status is S.PENDING
    assert created.customer_id == customer and created.external_ref == ref
    assert created.subdomain == sub and created.fqdn.startswith(sub + ".")
    assert (created.plan, created.region) == ("starter", "eu-west")
    assert created.ipv4 is None and created.server_id is None and created.activated_at is None
    assert_aware(created.created_at)
    assert_round_trips(created)
    id = created.id

    active = advance(id, S.ACTIVE)
    assert active.id == id
    assert_active(active, sub, "starter")
    assert active.version > created.version
    assert_round_trips(active)
    got = ops.get(id)
    assert (got.id, got.status, got.ipv4, got.server_id) == (id, S.ACTIVE, active.ipv4, active.server_id)
    assert [i.id for i in ops.list(customer_id=customer)] == [id]
    assert [i.id for i in ops.list(customer_id=customer, status="active")] == [id]
    assert [i.id for i in ops.list(customer_id=customer, status=S.ACTIVE)] == [id]
    assert ops.list(customer_id=customer, status=S.SUSPENDED) == []
    assert id in [i.id for i in ops.list(status="active")]
    assert ops.list(customer_id=unique("nobody")) == []

    assert ops.suspend(id).status is S.SUSPENDING
    suspended = advance(id, S.SUSPENDED)
    assert suspended.status == "suspended" and suspended.server_id == active.server_id
    assert [i.id for i in ops.list(customer_id=customer, status="suspended")] == [id]
    assert ops.list(customer_id=customer, status="active") == []

    assert ops.unsuspend(id).status is S.UNSUSPENDING
    assert_active(advance(id, S.ACTIVE), sub, "starter")

    resizing = ops.change_plan(id, "professional")
    assert resizing.status is S.RESIZING
    assert resizing.plan_change is not None
    assert (resizing.plan_change["from"], resizing.plan_change["to"]) == ("starter", "professional")
    moved = advance(id, S.ACTIVE)
    assert_active(moved, sub, "professional")
    assert moved.version > resizing.version

    assert ops.terminate(id).status is S.TERMINATING
    gone = advance(id, S.TERMINATED)
    assert gone.status is S.TERMINATED and gone.status.is_terminal
    assert gone.server_id is None and gone.ipv4 is None and gone.dns_record_ids == ()
    assert gone.plan == "professional"
    assert_round_trips(gone)
    assert [i.id for i in ops.list(customer_id=customer, status="terminated")] == [id]

    events = ops.instance_events(id)
    assert all(e.instance_id == id for e in events)
    sequences = [e.sequence for e in events]
    assert sequences == sorted(sequences) and len(set(sequences)) == len(sequences)
    changes = [(e.from_status, e.to_status) for e in events if e.kind == "status_changed"]
    assert changes == LIFE
    for e in events:
        assert_aware(e.at)
        assert e.reason
        assert openclaw.Event.from_dict(e.to_dict()) == e
        assert e.to_dict()["kind"]["type"] == e.kind
    return gone


# --- stores ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Store:
    """How to open a sandbox on one store."""

    name: str
    url: str
    secrets_file: Optional[str] = None
    database_schema: Optional[str] = None
    backup_store: Optional[str] = None

    def open(self) -> openclaw.Provisioner:
        return openclaw.Provisioner.sandbox(
            self.url,
            secrets_file=self.secrets_file,
            database_schema=self.database_schema,
            backup_store=self.backup_store,
        )


def _reachable(url: str) -> Optional[str]:
    """``None`` when the database server of ``url`` accepts a TCP connection, else why not."""
    parsed = urlparse(url)
    host = parsed.hostname or "127.0.0.1"
    port = parsed.port or 5432
    try:
        with socket.create_connection((host, port), timeout=2):
            return None
    except OSError as error:
        return f"PostgreSQL at {host}:{port} (DATABASE_URL) is unreachable: {error}"


@dataclass
class Postgres:
    """The session's PostgreSQL schema, or why there is none."""

    url: str
    schema: str
    secrets_file: str
    problem: Optional[str]


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Postgres]:
    """A schema of this session's own (``py_<hex>``) in ``DATABASE_URL``'s database, and one
    secrets file for it (the schema's sealed data needs the same keys in every test)."""
    url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    schema = f"py_{uuid.uuid4().hex[:16]}"
    secrets = str(tmp_path_factory.mktemp("postgres") / "openclaw.secrets")
    pg = Postgres(url=url, schema=schema, secrets_file=secrets, problem=_reachable(url))
    yield pg
    psql = shutil.which("psql")
    if pg.problem is None and psql is not None:
        # Best effort: the schema is unique to this run either way.
        subprocess.run(
            [psql, url, "-q", "-c", f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=30,
            check=False,
        )


def postgres_store(pg: Postgres) -> Store:
    """The PostgreSQL store of the session (skipped, or failed in CI, when unreachable)."""
    if pg.problem is not None:
        unavailable(pg.problem)
    return Store("postgres", pg.url, secrets_file=pg.secrets_file, database_schema=pg.schema)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, postgres: Postgres
) -> Store:
    """Each store in turn."""
    name: str = request.param
    if name == "memory":
        return Store("memory", "memory")
    if name == "sqlite":
        return Store("sqlite", f"sqlite://{tmp_path / 'x.db'}")
    # With PostgreSQL the sandbox keeps backups in ./openclaw-backups unless told otherwise.
    pg = postgres_store(postgres)
    return Store(pg.name, pg.url, pg.secrets_file, pg.database_schema, str(tmp_path / "backups"))


@pytest.fixture
def provisioner() -> Iterator[openclaw.Provisioner]:
    """A sandbox on the memory store, no workers running."""
    with openclaw.Provisioner.sandbox() as p:
        yield p


# --- a running server -----------------------------------------------------------------------


def server_bin() -> str:
    """The ``openclaw`` binary (skipped, or failed in CI, when there is none)."""
    path = os.environ.get("OPENCLAW_SERVER_BIN") or str(REPO / "target" / "debug" / "openclaw")
    if not os.access(path, os.X_OK):
        unavailable(f"no openclaw binary at {path} (set OPENCLAW_SERVER_BIN)")
    return path


def _server_env() -> Dict[str, str]:
    """A clean environment: the configuration file says everything."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "OPENCLAW_LOG": "warn"}
    if "HOME" in os.environ:
        env["HOME"] = os.environ["HOME"]
    return env


@dataclass
class Server:
    """``openclaw serve`` in sandbox mode on loopback, with its admin key."""

    bin: str
    dir: Path
    config: Path
    url: str
    admin_key: str = field(repr=False)
    process: "subprocess.Popen[str]" = field(repr=False)
    lines: List[str] = field(default_factory=list, repr=False)

    def create_key(self, name: str, scope: str = "manage", customer: Optional[str] = None) -> str:
        """``openclaw keys create``: a new key's token."""
        args = [self.bin, "keys", "create", "--name", name, "--scope", scope, "--config", str(self.config)]
        if customer is not None:
            args += ["--customer", customer]
        done = subprocess.run(
            args,
            cwd=self.dir,
            env=_server_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, f"openclaw keys create failed: {done.stderr}"
        match = KEY_PATTERN.search(done.stdout)
        assert match is not None, "openclaw keys create printed no key"
        return match.group(0)

    def stop(self) -> int:
        """SIGTERM, then the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise
        code: int = self.process.returncode
        return code


def start_server(directory: Path, extra_config: str = "") -> Server:
    """Starts ``openclaw serve --config <directory>/openclaw.toml`` and waits until it listens;
    its admin key is read from the line it prints once."""
    binary = server_bin()
    port = free_port()
    config = directory / "openclaw.toml"
    config.write_text(
        f"""mode = "sandbox"
listen = "127.0.0.1:{port}"
database_url = "sqlite://{directory / 'cp.db'}"
secrets_file = "{directory / 'cp.secrets'}"

[http]
shutdown_timeout = 5
{extra_config}
[sandbox]
boot_delay = 0
"""
    )
    stderr = open(directory / "serve.log", "w")
    process = subprocess.Popen(
        [binary, "serve", "--config", str(config)],
        cwd=directory,
        env=_server_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    stderr.close()
    lines: "queue.Queue[Optional[str]]" = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, name="openclaw-serve-stdout", daemon=True).start()
    seen: List[str] = []
    admin_key: Optional[str] = None
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"openclaw serve did not listen within 60 s: {seen}")
            try:
                line = lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                log = (directory / "serve.log").read_text()
                raise AssertionError(f"openclaw serve exited ({process.wait()}): {log[-2000:]}")
            seen.append(line)
            if ADMIN_KEY_LINE in line:
                match = KEY_PATTERN.search(line)
                assert match is not None
                admin_key = match.group(0)
            if f"listening on {url}" in line:
                break
    except BaseException:
        process.kill()
        process.wait()
        raise
    assert admin_key is not None, f"openclaw serve printed no admin key: {seen}"
    return Server(binary, directory, config, url, admin_key, process, seen)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the session's client tests; stopped with SIGTERM at the end, which it
    must obey (a graceful exit, code 0)."""
    s = start_server(tmp_path_factory.mktemp("server"))
    yield s
    assert s.stop() == 0, (s.dir / "serve.log").read_text()[-2000:]


@pytest.fixture(scope="session")
def admin(server: Server) -> openclaw.Client:
    """A client with the server's admin key."""
    return openclaw.Client(server.url, server.admin_key)


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Callable[[str], Server]]:
    """Starts servers with extra configuration; stops them after the test."""
    started: List[Server] = []

    def make(extra_config: str) -> Server:
        directory = tmp_path / f"server{len(started)}"
        directory.mkdir()
        s = start_server(directory, extra_config)
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop()
