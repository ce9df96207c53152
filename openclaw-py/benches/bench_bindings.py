"""How much the Python bindings cost, measured against baselines in the same run.

1. ``Provisioner.get`` through the bindings against the same call in Rust
   (``Native._bench_rust_get``: a loop of ``Provisioner::get`` on the runtime, timed in Rust),
   on the sandbox's in-memory store.
2. ``Client.get`` against a running ``openclaw serve`` (``OPENCLAW_SERVER_BIN``) against a bare
   HTTP/1.1 keep-alive GET of the same URL with the standard library's ``http.client``
   (reading the body, no JSON): the HTTP floor any client pays; and curl fetching the same URL
   n times in one process over one connection.

    python openclaw-py/benches/bench_bindings.py [--calls 20000]

Build the wheel with ``maturin build --release`` and the server with
``cargo build --release -p openclaw-http`` for figures worth writing down (BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import Callable, List, Tuple

import openclaw


def per_call(n: int, run: Callable[[], None], rounds: int = 5) -> float:
    """The best of ``rounds`` rounds of ``n`` calls, in microseconds per call."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(n):
            run()
        best = min(best, (time.perf_counter() - started) / n)
    return best * 1e6


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def embedded(n: int) -> List[Tuple[str, float]]:
    with openclaw.Provisioner.sandbox() as p:
        inst = p.create("bench", "bench-get", "starter", "eu-west")
        while p.get(inst.id).status != "active":
            p.run_pending_jobs()
        native = p._native
        rust = min(native._bench_rust_get(inst.id, n) for _ in range(5)) / n * 1e6
        raw = per_call(n, lambda: native.get(inst.id))
        full = per_call(n, lambda: p.get(inst.id))
    return [
        ("Rust Provisioner::get (baseline)", rust),
        ("Python: the native call, JSON text back", raw),
        ("Python: Provisioner.get -> Instance", full),
    ]


def remote(n: int, server: str) -> List[Tuple[str, float]]:
    work = tempfile.mkdtemp(prefix="openclaw-bench-")
    port = free_port()
    config = os.path.join(work, "openclaw.toml")
    with open(config, "w") as f:
        f.write(
            f'mode = "sandbox"\nlisten = "127.0.0.1:{port}"\ndatabase_url = "memory"\n'
            f'secrets_file = "{work}/openclaw.secrets"\n[http.rate_limit]\nburst = 1000000\nper_second = 1000000.0\n'
        )
    proc = subprocess.Popen(
        [server, "serve", "--config", config], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        key = ""
        assert proc.stdout is not None
        for line in proc.stdout:
            found = re.search(r"ock_[A-Za-z0-9._-]+", line)
            if found and not key:
                key = found.group(0)
            if "listening on" in line:
                break
        url = f"http://127.0.0.1:{port}"
        client = openclaw.Client(url, key)
        inst = client.create("bench", "bench-http", "starter", "eu-west")
        client.wait(inst.id, "active", timeout=60)
        conn = http.client.HTTPConnection("127.0.0.1", port)
        headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}

        def bare() -> None:
            conn.request("GET", f"/v1/instances/{inst.id}", headers=headers)
            response = conn.getresponse()
            response.read()
            assert response.status == 200

        floor = per_call(n, bare)
        full = per_call(n, lambda: client.get(inst.id))
        conn.close()
        rows = [
            ("http.client keep-alive GET (baseline)", floor),
            ("Client.get -> Instance", full),
        ]
        curl = shutil.which("curl")
        if curl:
            # One curl process fetching the URL n times over one connection; the key in a
            # 0600 config file, never on the command line.
            listing = os.path.join(work, "curl.conf")
            with open(os.open(listing, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                f.write(f'header = "Authorization: Bearer {key}"\n')
                for _ in range(n):
                    f.write(f'url = "{url}/v1/instances/{inst.id}"\noutput = "/dev/null"\n')
            best = float("inf")
            for _ in range(5):
                started = time.perf_counter()
                subprocess.run([curl, "-s", "--config", listing], check=True)
                best = min(best, (time.perf_counter() - started) / n)
            rows.append(("curl, one process, n GETs on one connection", best * 1e6))
        return rows
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20000)
    args = parser.parse_args()
    rows = embedded(args.calls)
    print(f"get through the bindings, {args.calls} calls, best of 5 (µs per call):")
    base = rows[0][1]
    for name, value in rows:
        print(f"  {name:45s} {value:8.2f}   x{value / base:.2f}")
    server = os.environ.get("OPENCLAW_SERVER_BIN")
    if server:
        calls = max(args.calls // 10, 500)
        rows = remote(calls, server)
        print(f"the client against `openclaw serve`, {calls} calls, best of 5 (µs per call):")
        base = rows[0][1]
        for name, value in rows:
            print(f"  {name:45s} {value:8.2f}   x{value / base:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
