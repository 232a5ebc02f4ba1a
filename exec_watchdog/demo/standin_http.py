"""The stand-in agents' HTTP side: the agent API (contract §4) as Trinity's agent server answers it."""

from __future__ import annotations

import contextlib
import hmac
import json
import queue
import time
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING
from urllib.parse import unquote

from exec_watchdog.adapters.agent_api import agent_token
from exec_watchdog.demo.standin_agent import STREAM_END, StandinAgent, unregister

if TYPE_CHECKING:
    from exec_watchdog.demo.standin_fleet import StandinFleet


class StandinHandler(BaseHTTPRequestHandler):
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
        if method == "GET" and len(rest) == 2 and rest[1] == "stream":
            return self._stream(fleet, agent, rest[0])
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
                    unregister(agent, x)
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

    def _stream(self, fleet: StandinFleet, agent: StandinAgent, execution_id: str) -> None:
        """Like Trinity's: the buffered entries first, then live ones, `: keepalive` after
        `keepalive_s` without any, `stream_end` when the execution ends; 404 once it has."""
        stream: queue.Queue[str | None] = queue.Queue(maxsize=500)
        with fleet.lock:
            if execution_id not in agent.running:
                return self._reply(404, {"detail": "Execution not found"})
            for buffered in agent.logs.get(execution_id, [])[:500]:
                stream.put_nowait(buffered)
            agent.streams.setdefault(execution_id, []).append(stream)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        try:
            while True:
                try:
                    text = stream.get(timeout=fleet.keepalive_s)
                except queue.Empty:
                    self.wfile.write(b": keepalive\n\n")
                    self.wfile.flush()
                    continue
                if text is None:
                    return None
                self.wfile.write(f"data: {text}\n\n".encode())
                self.wfile.flush()
                if text == STREAM_END:
                    return None
        except OSError:
            return None  # the reader went away
        finally:
            with fleet.lock, contextlib.suppress(ValueError):
                agent.streams.get(execution_id, []).remove(stream)

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
