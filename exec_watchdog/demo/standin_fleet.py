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
from urllib.parse import unquote

from exec_watchdog.adapters.agent_api import agent_token

Mode = Literal["ok", "down", "unauthorized", "garbage", "slow", "redirect"]


@dataclass
class StandinAgent:
    running: dict[str, float] = field(default_factory=dict)
    completed: dict[str, int] = field(default_factory=dict)
    pending: set[str] = field(default_factory=set)
    mode: Mode = "ok"
    slow_s: float = 20.0
    fail_next: int = 0
    """Answer this many coming requests with 503, then behave again."""
    in_flight: int = 0
    max_in_flight: int = 0
    survives_terminates: int = 0
    """Acknowledge this many coming terminates with `terminated` and keep the process running."""
    errors: dict[str, tuple[str, str]] = field(default_factory=dict)
    """The last error in a running execution's log buffer (type, message); the buffer goes when it ends."""


class StandinFleet:
    def __init__(self, auth_secret: str | None = None, static_token: str | None = None) -> None:
        self.agents: dict[str, StandinAgent] = {}
        self.auth_secret = auth_secret
        self.static_token = static_token
        self.requests = 0
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

    def finish_after(self, agent: str, execution_id: str, seconds: float, returncode: int = 0) -> None:
        """The process exits by itself after a while (the agent reports it recently completed)."""
        self.start_execution(agent, execution_id)
        timer = threading.Timer(seconds, self.finish, args=(agent, execution_id, returncode))
        timer.daemon = True
        timer.start()

    def queue(self, agent: str, execution_id: str) -> None:
        self.agent(agent).pending.add(execution_id)

    def set_mode(self, agent: str, mode: Mode, *, slow_s: float | None = None) -> None:
        a = self.agent(agent)
        a.mode = mode
        if slow_s is not None:
            a.slow_s = slow_s

    def fail_next(self, agent: str, count: int) -> None:
        self.agent(agent).fail_next = count

    # ---- serving -----------------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0, single: str | None = None) -> int:
        """Serve on host:port. With `single`, that one agent answers at the root (`/api/...`)."""
        fleet = self

        class Handler(_Handler):
            owner = fleet
            only = single

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        server = self._server
        threading.Thread(
            target=lambda: server.serve_forever(poll_interval=0.05), name="standin-fleet", daemon=True
        ).start()
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
    only: str | None = None

    def log_message(self, format: str, *args: object) -> None:
        return None

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        fleet = self.owner
        with fleet.lock:
            fleet.requests += 1
        parts = [unquote(part) for part in self.path.strip("/").split("/")]  # segments arrive percent-encoded
        if self.only is not None:
            parts = [self.only, *parts]
        if len(parts) < 3 or parts[1:3] != ["api", "executions"]:
            return self._reply(404, {"detail": "Not Found"})
        name, rest = parts[0], parts[3:]
        agent = fleet.agent(name)
        with fleet.lock:
            agent.in_flight += 1
            agent.max_in_flight = max(agent.max_in_flight, agent.in_flight)
        try:
            self._answer(fleet, agent, name, method, rest)
        finally:
            with fleet.lock:
                agent.in_flight -= 1

    def _answer(self, fleet: StandinFleet, agent: StandinAgent, name: str, method: str, rest: list[str]) -> None:
        if agent.mode == "down":
            return self._reply(503, {"detail": "Service Unavailable"})
        if agent.fail_next > 0:
            with fleet.lock:
                agent.fail_next -= 1
            return self._reply(503, {"detail": "Service Unavailable"})
        if agent.mode == "slow":
            time.sleep(agent.slow_s)
        if agent.mode == "redirect":
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1:1/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
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
                        "pending_ids": sorted(agent.pending),
                        "agent_version": "stand-in",
                    },
                )
            if len(rest) != 2:
                return self._reply(404, {"detail": "Not Found"})
            x, call = rest
            if method == "GET" and call == "status":
                shape: dict[str, object] = {"execution_id": x, "started_at": agent.running.get(x), "metadata": {}}
                if x in agent.running:
                    return self._reply(200, {**shape, "running": True, "returncode": None})
                if x in agent.completed:
                    return self._reply(200, {**shape, "running": False, "returncode": agent.completed[x]})
                return self._reply(404, {"detail": "Execution not found"})
            if method == "POST" and call == "terminate":
                fleet.terminates[(name, x)] += 1
                if x in agent.running and agent.survives_terminates > 0:
                    agent.survives_terminates -= 1
                    return self._reply(200, {"status": "terminated"})
                if x in agent.running:
                    del agent.running[x]
                    agent.completed[x] = -2
                    return self._reply(200, {"status": "terminated"})
                if x in agent.completed:
                    return self._reply(200, {"status": "already_finished", "returncode": agent.completed[x]})
                return self._reply(404, {"detail": "Execution not found"})
            if method == "GET" and call == "last-error":  # like Trinity's: from the buffer of a running one
                if x not in agent.running:
                    return self._reply(404, {"detail": "Execution not found"})
                error_type, message = agent.errors.get(x, (None, None))
                return self._reply(200, {"error_type": error_type, "error_message": message})
        return self._reply(404, {"detail": "Not Found"})

    def _authorized(self, agent_name: str) -> bool:
        secret, static = self.owner.auth_secret, self.owner.static_token
        given = self.headers.get("X-Trinity-Agent-Token", "")
        if secret is not None:
            return hmac.compare_digest(given, agent_token(secret, agent_name))
        if static is not None:
            return hmac.compare_digest(given, static)
        return True

    def _reply(self, status: int, body: object) -> None:
        self._raw(status, json.dumps(body).encode())

    def _raw(self, status: int, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
