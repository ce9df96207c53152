"""Connection details of the fake Cloudflare API, set by scripts/test-python-cloudflare.

A missing variable fails the run: these tests never skip silently.
"""

import os

import pytest
from cloudflare import Cloudflare


def _required(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        pytest.fail(
            f"{name} is not set: run scripts/test-python-cloudflare, which starts the fake "
            "Cloudflare server and sets it",
            pytrace=False,
        )
    return value


@pytest.fixture(scope="session")
def fake() -> dict:
    return {
        "base_url": _required("CF_FAKE_BASE_URL"),
        "zone_id": _required("CF_FAKE_ZONE_ID"),
        "zone_name": _required("CF_FAKE_ZONE_NAME"),
        "token": _required("CF_FAKE_TOKEN"),
    }


@pytest.fixture()
def client(fake: dict) -> Cloudflare:
    # No retries: a failure should show as the fake's answer, not as a retry storm.
    return Cloudflare(api_token=fake["token"], base_url=fake["base_url"], max_retries=0)
