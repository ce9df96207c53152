"""examples/python/provision.py runs, and does what the README says it does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

from conftest import REPO

EXAMPLE = REPO / "examples" / "python" / "provision.py"


@pytest.mark.parametrize("store", ["default", "sqlite"])
def test_the_example_runs(store: str, tmp_path: Path) -> None:
    args: List[str] = [sys.executable, str(EXAMPLE)]
    if store == "sqlite":
        args += ["--store", f"sqlite://{tmp_path / 'example.db'}"]
    done = subprocess.run(
        args, cwd=tmp_path, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=False
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "is active at " in out
    for line in ("suspended: suspended", "unsuspended: active", "terminated: terminated", "closed"):
        assert line in out, out
    assert "provisioning -> active" in out and "terminating -> terminated" in out
    assert "sk-ant" not in out + done.stderr
    if store == "sqlite":
        assert (tmp_path / "example.db").exists()
    else:
        assert "alice.openclaw.localhost" in out
        assert sorted(p.name for p in tmp_path.iterdir()) == [], "a memory sandbox leaves nothing behind"
