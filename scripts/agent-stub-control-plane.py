#!/usr/bin/env python3
"""A stand-in for the control plane's side of the instance agent's protocol (v1,
docs/agent-protocol.md), for testing openclaw-agent on one machine. Standard library only;
listens on 127.0.0.1 only.

The protocol's endpoints (Authorization: Bearer <agent token> on each):
  POST /v1/agent/heartbeat              -> 204
  GET  /v1/agent/tasks/next?wait=N      -> 200 task, or 204 after N seconds (1-30)
  POST /v1/agent/tasks/{id}/result      -> 204, 404 (unknown id), 409 (not running)
A wrong token gets 401; after POST /test/gone every call gets 410.

For the test that drives it (no token; never part of the real control plane):
  POST /test/tasks {"kind": …, "args": {…}} -> 201 {"id": …}
  GET  /test/tasks/{id}                      -> {"state": "queued|running|done", "result": …}
  GET  /test/heartbeats                      -> {"count": n, "last": {…} | null}
  POST /test/gone                            -> 204

Usage: agent-stub-control-plane.py --agent-env FILE [--port N] [--port-file FILE]
The agent token is read from FILE (OPENCLAW_AGENT_TOKEN="…", as the bootstrap writes it), so
it never shows on a command line. The chosen port is written to --port-file when given.
"""

import argparse
import hmac
import json
import os
import re
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LEASE_SECONDS = 600


class State:
    def __init__(self, token):
        self.token = token
        self.lock = threading.Condition()
        self.tasks = {}  # id -> {"kind", "args", "state", "leased_until", "result"}
        self.order = []
        self.heartbeats = 0
        self.last_heartbeat = None
        self.gone = False

    def next_task(self):
        now = time.monotonic()
        for task_id in self.order:
            task = self.tasks[task_id]
            if task["state"] == "queued" or (
                task["state"] == "running" and task["leased_until"] < now
            ):
                task["state"] = "running"
                task["leased_until"] = now + LEASE_SECONDS
                return task_id, task
        return None, None


def read_token(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r'^OPENCLAW_AGENT_TOKEN="?([^"\n]*)"?\s*$', line)
            if m:
                return m.group(1)
    sys.exit(f"{path} has no OPENCLAW_AGENT_TOKEN")


class Handler(BaseHTTPRequestHandler):
    server_version = "agent-stub"
    protocol_version = "HTTP/1.1"

    @property
    def state(self):
        return self.server.state

    def log_message(self, fmt, *args):  # request lines only: paths carry no secret
        sys.stderr.write("stub: " + (fmt % args) + "\n")

    def reply(self, status, body=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read_json(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw or b"null")
        except ValueError:
            return None

    def agent_allowed(self):
        if self.state.gone:
            self.reply(410, {"error": "this instance is gone"})
            return False
        given = self.headers.get("Authorization", "")
        expected = "Bearer " + self.state.token
        if not hmac.compare_digest(given.encode(), expected.encode()):
            self.reply(401, {"error": "unauthorized"})
            return False
        return True

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path == "/v1/agent/tasks/next":
            if not self.agent_allowed():
                return
            try:
                wait = int(parse_qs(url.query).get("wait", ["25"])[0])
            except ValueError:
                return self.reply(400, {"error": "wait must be a number"})
            wait = min(max(wait, 1), 30)
            deadline = time.monotonic() + wait
            with self.state.lock:
                while True:
                    task_id, task = self.state.next_task()
                    if task_id or self.state.gone:
                        break
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self.state.lock.wait(min(left, 0.5))
            if self.state.gone:
                return self.reply(410, {"error": "this instance is gone"})
            if not task_id:
                return self.reply(204)
            return self.reply(200, {"id": task_id, "kind": task["kind"], "args": task["args"]})
        m = re.fullmatch(r"/test/tasks/([A-Za-z0-9_-]+)", url.path)
        if m:
            with self.state.lock:
                task = self.state.tasks.get(m.group(1))
                if not task:
                    return self.reply(404, {"error": "no such task"})
                return self.reply(200, {"state": task["state"], "result": task["result"]})
        if url.path == "/test/heartbeats":
            with self.state.lock:
                return self.reply(
                    200, {"count": self.state.heartbeats, "last": self.state.last_heartbeat}
                )
        self.reply(404, {"error": "not found"})

    def do_POST(self):
        url = urlsplit(self.path)
        if url.path == "/v1/agent/heartbeat":
            body = self.read_json()
            if not self.agent_allowed():
                return
            if not isinstance(body, dict) or body.get("agent_version") != "1":
                return self.reply(400, {"error": "not a v1 heartbeat"})
            with self.state.lock:
                self.state.heartbeats += 1
                self.state.last_heartbeat = body
            return self.reply(204)
        m = re.fullmatch(r"/v1/agent/tasks/([A-Za-z0-9_-]+)/result", url.path)
        if m:
            body = self.read_json()
            if not self.agent_allowed():
                return
            if not isinstance(body, dict) or not isinstance(body.get("ok"), bool):
                return self.reply(400, {"error": "a result has a boolean ok"})
            with self.state.lock:
                task = self.state.tasks.get(m.group(1))
                if not task:
                    return self.reply(404, {"error": "no such task"})
                if task["state"] != "running":
                    return self.reply(409, {"error": "task is not running"})
                task["state"] = "done"
                task["result"] = body
            return self.reply(204)
        if url.path == "/test/tasks":
            body = self.read_json()
            if not isinstance(body, dict) or not isinstance(body.get("kind"), str):
                return self.reply(400, {"error": "a task has a kind"})
            task_id = uuid.uuid4().hex
            with self.state.lock:
                self.state.tasks[task_id] = {
                    "kind": body["kind"],
                    "args": body.get("args") or {},
                    "state": "queued",
                    "leased_until": 0,
                    "result": None,
                }
                self.state.order.append(task_id)
                self.state.lock.notify_all()
            return self.reply(201, {"id": task_id})
        if url.path == "/test/gone":
            with self.state.lock:
                self.state.gone = True
                self.state.lock.notify_all()
            return self.reply(204)
        self.reply(404, {"error": "not found"})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agent-env", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.state = State(read_token(args.agent_env))
    port = server.server_address[1]
    if args.port_file:
        with open(args.port_file + ".tmp", "w", encoding="utf-8") as f:
            f.write(f"{port}\n")
        os.replace(args.port_file + ".tmp", args.port_file)
    sys.stderr.write(f"stub: listening on 127.0.0.1:{port}\n")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
