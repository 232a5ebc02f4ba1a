"""Stand-in agents: one loopback HTTP server that speaks the agent API (contract §4) for many agents.

Agent `NAME` lives under `/NAME/`, so `AGENT_URL_TEMPLATE` is `http://127.0.0.1:PORT/{agent_name}`.
Each agent can be switched to misbehave (unreachable, unauthorized, garbage replies, slow), and
the fleet counts the calls it receives, so tests and the demo can see what the watchdog did.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal

from adapters.agent_api import agent_token

Mode = Literal["ok", "down", "unauthorized", "garbage", "slow"]


@dataclass
class StandinAgent:
    running: dict[str, float] = field(default_factory=dict)
    completed: dict[str, int] = field(default_factory=dict)
    mode: Mode = "ok"
    slow_s: float = 20.0


class StandinFleet:
    def __init__(self, auth_secret: str | None = None) -> None:
        self.agents: dict[str, StandinAgent] = {}
        self.auth_secret = auth_secret
        self.terminates: Counter[tuple[str, str]] = Counter()
        self.running_calls: Counter[str] = Counter()
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # ---- the fleet's story -------------------------------------------------------------------------

    def agent(self, name: str) -> StandinAgent:
        with self.lock:
            return self.agents.setdefault(name, StandinAgent())

    def start_execution(self, agent: str, execution_id: str) -> None:
        self.agent(agent).running[execution_id] = time.time()

    def finish(self, agent: str, execution_id: str, returncode: int = 0) -> None:
        a = self.agent(agent)
        a.running.pop(execution_id, None)
        a.completed[execution_id] = returncode

    def forget(self, agent: str, execution_id: str) -> None:
        """The process vanished and the agent lost track of it: an orphan."""
        a = self.agent(agent)
        a.running.pop(execution_id, None)
        a.completed.pop(execution_id, None)

    def set_mode(self, agent: str, mode: Mode) -> None:
        self.agent(agent).mode = mode

    # ---- serving -----------------------------------------------------------------------------------

    def start(self) -> int:
        fleet = self

        class Handler(_Handler):
            owner = fleet

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="standin-fleet", daemon=True).start()
        return int(self._server.server_address[1])

    @property
    def url_template(self) -> str:
        assert self._server is not None, "start() the fleet first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/{{agent_name}}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    owner: StandinFleet

    def log_message(self, format: str, *args: object) -> None:
        return None

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        parts = self.path.strip("/").split("/")
        if len(parts) < 3 or parts[1:3] != ["api", "executions"]:
            return self._reply(404, {"detail": "Not Found"})
        name, rest = parts[0], parts[3:]
        fleet = self.owner
        agent = fleet.agent(name)
        if agent.mode == "down":
            return self._reply(503, {"detail": "Service Unavailable"})
        if agent.mode == "slow":
            time.sleep(agent.slow_s)
        if agent.mode == "unauthorized" or not self._authorized(name):
            return self._reply(401, {"detail": "Unauthorized"})
        if agent.mode == "garbage":
            return self._raw(200, b"{not json")
        with fleet.lock:
            if method == "GET" and rest == ["running"]:
                fleet.running_calls[name] += 1
                return self._reply(
                    200,
                    {
                        "executions": [
                            {"execution_id": x, "pid": 1000 + i, "started_at": started, "metadata": {}}
                            for i, (x, started) in enumerate(sorted(agent.running.items()))
                        ],
                        "recently_completed_ids": sorted(agent.completed),
                    },
                )
            if len(rest) == 2 and method == "GET" and rest[1] == "status":
                x = rest[0]
                if x in agent.running:
                    return self._reply(200, {"execution_id": x, "running": True, "returncode": None})
                if x in agent.completed:
                    return self._reply(
                        200, {"execution_id": x, "running": False, "returncode": agent.completed[x]}
                    )
                return self._reply(404, {"detail": "Execution not found"})
            if len(rest) == 2 and method == "POST" and rest[1] == "terminate":
                x = rest[0]
                fleet.terminates[(name, x)] += 1
                if x in agent.running:
                    del agent.running[x]
                    agent.completed[x] = -2
                    return self._reply(200, {"status": "terminated"})
                if x in agent.completed:
                    return self._reply(200, {"status": "already_finished", "returncode": agent.completed[x]})
                return self._reply(404, {"detail": "Execution not found"})
            if len(rest) == 2 and method == "GET" and rest[1] == "last-error":
                return self._reply(200, {"error_type": "Terminated", "error_message": "stopped by watchdog"})
        return self._reply(404, {"detail": "Not Found"})

    def _authorized(self, agent_name: str) -> bool:
        secret = self.owner.auth_secret
        if secret is None:
            return True
        given = self.headers.get("X-Trinity-Agent-Token", "")
        return hmac.compare_digest(given, agent_token(secret, agent_name))

    def _reply(self, status: int, body: object) -> None:
        self._raw(status, json.dumps(body).encode())

    def _raw(self, status: int, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
