"""Hetzner's official Python client (`hcloud` from PyPI) against openclaw's fake Hetzner.

The fake must look like Hetzner to a client we did not write: create a server, list it by
label, power it off, delete it. `OPENCLAW_FAKE_HETZNER_URL` is the fake's base URL
(`scripts/test-python-hetzner` starts the fake and sets it).
"""

from __future__ import annotations

import os
import uuid

import pytest
from hcloud import APIException, Client
from hcloud.images import Image
from hcloud.locations import Location
from hcloud.server_types import ServerType

OWNER = "python-test"


@pytest.fixture(scope="module")
def client() -> Client:
    url = os.environ.get("OPENCLAW_FAKE_HETZNER_URL")
    if not url:
        pytest.fail("OPENCLAW_FAKE_HETZNER_URL is not set: run scripts/test-python-hetzner")
    return Client(token="python-test-token", api_endpoint=url, poll_interval=0.05)


def create(client: Client, labels: dict[str, str] | None = None):
    name = f"py-{uuid.uuid4().hex[:12]}"
    response = client.servers.create(
        name=name,
        server_type=ServerType(name="cpx22"),
        image=Image(name="ubuntu-24.04"),
        location=Location(name="fsn1"),
        labels={"openclaw/owner": OWNER, **(labels or {})},
        user_data="#cloud-config\nruncmd:\n- [touch, /root/ok]\n",
    )
    response.action.wait_until_finished()
    for action in response.next_actions:
        action.wait_until_finished()
    return response


def test_create_list_power_off_delete(client: Client) -> None:
    instance = uuid.uuid4().hex
    response = create(client, {"openclaw/instance": instance})
    server = response.server
    assert server.id > 0
    assert server.public_net.ipv4.ip
    assert server.public_net.ipv6.ip.endswith("/64")
    assert response.root_password  # no SSH keys were given

    found = client.servers.get_all(label_selector=f"openclaw/owner={OWNER},openclaw/instance={instance}")
    assert [s.id for s in found] == [server.id]
    assert found[0].labels["openclaw/instance"] == instance
    assert found[0].status == "running"

    client.servers.power_off(found[0]).wait_until_finished()
    assert client.servers.get_by_id(server.id).status == "off"

    # A plan change: the type changes, the disk is kept, the server stays off; a type
    # whose disk is smaller than the server's is refused as Hetzner refuses it.
    client.servers.change_type(found[0], ServerType(name="cpx32"), upgrade_disk=False).wait_until_finished()
    changed = client.servers.get_by_id(server.id)
    assert (changed.server_type.name, changed.primary_disk_size, changed.status) == ("cpx32", 80, "off")
    with pytest.raises(APIException) as smaller:
        client.servers.change_type(found[0], ServerType(name="cx22"), upgrade_disk=False)
    assert smaller.value.code == "invalid_server_type"

    client.servers.delete(found[0]).wait_until_finished()
    with pytest.raises(APIException) as gone:
        client.servers.get_by_id(server.id)
    assert gone.value.code == "not_found"
    assert client.servers.get_all(label_selector=f"openclaw/instance={instance}") == []


def test_duplicate_names_are_uniqueness_errors(client: Client) -> None:
    first = create(client).server
    with pytest.raises(APIException) as duplicate:
        client.servers.create(
            name=first.name,
            server_type=ServerType(name="cpx22"),
            image=Image(name="ubuntu-24.04"),
        )
    assert duplicate.value.code == "uniqueness_error"
    client.servers.delete(first).wait_until_finished()


def test_label_selectors_and_pagination(client: Client) -> None:
    batch = uuid.uuid4().hex[:8]
    made = [create(client, {"batch": batch, "tier": "gold" if i % 2 else "free"}).server for i in range(7)]
    # get_all walks every page; the fake pages at most 50 and the client asks for 50.
    everything = client.servers.get_all(label_selector=f"batch={batch}")
    assert sorted(s.id for s in everything) == sorted(s.id for s in made)
    gold = client.servers.get_all(label_selector=f"batch={batch},tier in (gold)")
    assert len(gold) == 3
    not_gold = client.servers.get_all(label_selector=f"batch={batch},tier!=gold")
    assert len(not_gold) == 4
    page = client.servers.get_list(label_selector=f"batch={batch}", page=2, per_page=3)
    assert len(page.servers) == 3
    assert page.meta.pagination.total_entries == 7
    assert page.meta.pagination.next_page == 3
    with pytest.raises(APIException) as bad:
        client.servers.get_all(label_selector="tier in (gold")
    assert bad.value.code == "invalid_input"
    for server in made:
        client.servers.delete(server)
