"""Cloudflare's official Python client (`cloudflare` on PyPI) against the fake server.

If the official client can create, list and delete a record on the fake, the fake speaks
Cloudflare's API as the live service does, not just as our own adapter expects it.
"""

import uuid

import cloudflare
import pytest


def _name(fake: dict, prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}.{fake['zone_name']}"


def test_create_list_delete_a_record(client, fake):
    zone_id = fake["zone_id"]
    name = _name(fake, "py")

    created = client.dns.records.create(
        zone_id=zone_id,
        type="A",
        name=name,
        content="192.0.2.44",
        ttl=300,
        proxied=False,
        comment="made by the python client test",
    )
    assert created is not None
    assert len(created.id) == 32
    assert created.name == name
    assert created.type == "A"
    assert created.content == "192.0.2.44"
    assert created.ttl == 300
    assert created.proxied is False
    assert created.comment == "made by the python client test"

    listed = list(client.dns.records.list(zone_id=zone_id, name={"exact": name}))
    assert [r.id for r in listed] == [created.id]
    by_type = list(client.dns.records.list(zone_id=zone_id, name={"exact": name}, type="AAAA"))
    assert by_type == []
    by_comment = list(
        client.dns.records.list(zone_id=zone_id, comment={"startswith": "made by the python"})
    )
    assert created.id in [r.id for r in by_comment]

    deleted = client.dns.records.delete(created.id, zone_id=zone_id)
    assert deleted is not None
    assert deleted.id == created.id
    assert list(client.dns.records.list(zone_id=zone_id, name={"exact": name})) == []

    # Already gone: 404 with Cloudflare's code 81044.
    with pytest.raises(cloudflare.NotFoundError) as gone:
        client.dns.records.delete(created.id, zone_id=zone_id)
    assert "81044" in str(gone.value)


def test_pagination_walks_every_page(client, fake):
    zone_id = fake["zone_id"]
    marker = f"page-test-{uuid.uuid4().hex[:8]}"
    ids = []
    for i in range(7):
        record = client.dns.records.create(
            zone_id=zone_id,
            type="A",
            name=_name(fake, f"page{i}"),
            content=f"192.0.2.{i + 1}",
            ttl=120,
            comment=marker,
        )
        ids.append(record.id)
    try:
        seen = [
            r.id
            for r in client.dns.records.list(zone_id=zone_id, comment={"exact": marker}, per_page=3)
        ]
        assert sorted(seen) == sorted(ids)
    finally:
        for record_id in ids:
            client.dns.records.delete(record_id, zone_id=zone_id)


def test_an_identical_record_is_refused_with_a_code_above_65535(client, fake):
    zone_id = fake["zone_id"]
    name = _name(fake, "dup")
    first = client.dns.records.create(zone_id=zone_id, type="A", name=name, content="192.0.2.9", ttl=120)
    try:
        with pytest.raises(cloudflare.BadRequestError) as refused:
            client.dns.records.create(zone_id=zone_id, type="A", name=name, content="192.0.2.9", ttl=120)
        assert "81058" in str(refused.value)
    finally:
        client.dns.records.delete(first.id, zone_id=zone_id)


def test_a_wrong_token_is_refused(fake):
    wrong = cloudflare.Cloudflare(api_token="not-the-token", base_url=fake["base_url"], max_retries=0)
    with pytest.raises(cloudflare.APIStatusError) as refused:
        list(wrong.dns.records.list(zone_id=fake["zone_id"]))
    assert refused.value.status_code == 403
