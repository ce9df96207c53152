"""No secret comes back: not a client's API key (in no ``repr`` or ``str``), not an
instance's provider keys (in no ``repr``, ``to_dict()``, event, nor the store's files)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List

import openclaw
from conftest import S, Server, drive, unique
from openclaw import aio

PROVIDER_KEY = "sk-ant-secret-123"


def traces(inst: openclaw.Instance, events: List[openclaw.Event]) -> List[str]:
    """Every way the instance and its events can be shown."""
    shown = [repr(inst), str(inst), json.dumps(inst.to_dict()), repr(inst.to_dict())]
    for event in events:
        shown += [repr(event), str(event), json.dumps(event.to_dict())]
    return shown


def test_a_clients_key_is_in_no_repr(server: Server) -> None:
    key = server.admin_key
    secret = key.split(".", 1)[1]
    client = openclaw.Client(server.url + "/", key)
    shown = [repr(client), str(client), repr(vars(client)), repr(client._native), f"{client}"]
    for text in shown:
        assert key not in text and secret not in text
    assert repr(client) == f"<openclaw.Client url={server.url!r}>"
    assert client.list() is not None, "the key works all the same"
    async_client = aio.Client(server.url, key)
    for text in (repr(async_client), str(async_client), repr(vars(async_client))):
        assert key not in text and secret not in text


def test_provider_keys_never_come_back(tmp_path: Path) -> None:
    database = tmp_path / "x.db"
    with openclaw.Provisioner.sandbox(f"sqlite://{database}") as p:
        created = p.create(
            unique("c"), unique("sealed"), "starter", "eu-west", provider_keys={"ANTHROPIC_API_KEY": PROVIDER_KEY}
        )
        active = drive(p, created.id, S.ACTIVE)
        events = p.instance_events(created.id)
        assert events, "there are events to look through"
        shown = traces(created, events) + traces(active, list(p.events(after=0, follow=False)))
        shown += [repr(i) for i in p.list()] + [repr(p), repr(p.sweep())]
        for text in shown:
            assert PROVIDER_KEY not in text
            assert "sk-ant" not in text
        assert "provider_keys" not in created.to_dict()
    # Sealed in the store, never written out in the clear.
    for file in tmp_path.iterdir():
        if file.is_file():
            assert PROVIDER_KEY.encode() not in file.read_bytes(), file.name


def test_provider_keys_through_a_server(server: Server, admin: openclaw.Client) -> None:
    created = admin.create(
        unique("c"), unique("sealed"), "starter", "eu-west", provider_keys={"ANTHROPIC_API_KEY": PROVIDER_KEY}
    )
    active = admin.wait(created.id, "active", timeout=60)
    shown = traces(created, admin.instance_events(created.id)) + traces(active, [])
    shown += [repr(i) for i in admin.list()]
    for text in shown:
        assert PROVIDER_KEY not in text
    for file in server.dir.iterdir():
        if file.is_file():
            assert PROVIDER_KEY.encode() not in file.read_bytes(), file.name
