"""Stand-in agents: one loopback HTTP server that speaks the agent API (contract §4) for many agents.

Agent `NAME` lives under `/NAME/`, so `AGENT_URL_TEMPLATE` is `http://127.0.0.1:PORT/{agent_name}`.
Each agent can be switched to misbehave (unreachable, unauthorized, garbage replies, slow), and
the fleet counts the calls it receives, so tests and the demo can see what the watchdog did.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
from collections import Counter
from http.server import ThreadingHTTPServer

from exec_watchdog.demo.standin_agent import Mode, StandinAgent, unregister
from exec_watchdog.demo.standin_http import StandinHandler

__all__ = ["Mode", "StandinAgent", "StandinFleet"]


class _FleetServer(ThreadingHTTPServer):
    request_queue_size = 1024
    """Many agents are probed at once (a suspicion wave): with the standard library's backlog of 5 the
    kernel drops the extra connection attempts and each caller retries a second later."""


class StandinFleet:
    def __init__(self, auth_secret: str | None = None, static_token: str | None = None) -> None:
        self.agents: dict[str, StandinAgent] = {}
        self.auth_secret = auth_secret
        self.static_token = static_token
        self.requests = 0
        self.terminates: Counter[tuple[str, str]] = Counter()
        self.running_calls: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.keepalive_s = 30.0
        """How long a log stream stays quiet before a `: keepalive` (Trinity: 30 s)."""
        self._server: ThreadingHTTPServer | None = None

    # ---- the fleet's story -------------------------------------------------------------------------

    def agent(self, name: str) -> StandinAgent:
        with self.lock:
            return self.agents.setdefault(name, StandinAgent())

    def start_execution(self, agent: str, execution_id: str) -> None:
        a = self.agent(agent)
        a.running[execution_id] = time.time()
        a.logs[execution_id] = []
        a.streams[execution_id] = []

    def log(self, agent: str, execution_id: str, entry: dict[str, object]) -> None:
        """The execution writes a log entry: buffered, and sent to every open stream (like Trinity's
        `publish_log_entry`, a full stream queue drops it)."""
        a = self.agent(agent)
        text = json.dumps(entry)
        with self.lock:
            if execution_id not in a.logs:
                return
            a.logs[execution_id] = [*a.logs[execution_id], text][-1000:]
            for stream in a.streams.get(execution_id, []):
                with contextlib.suppress(queue.Full):
                    stream.put_nowait(text)

    def finish(self, agent: str, execution_id: str, returncode: int = 0) -> None:
        a = self.agent(agent)
        a.running.pop(execution_id, None)
        a.completed[execution_id] = returncode
        unregister(a, execution_id)

    def forget(self, agent: str, execution_id: str) -> None:
        """The process vanished and the agent lost track of it: an orphan."""
        a = self.agent(agent)
        a.running.pop(execution_id, None)
        a.completed.pop(execution_id, None)
        unregister(a, execution_id)

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

        class Handler(StandinHandler):
            owner = fleet
            only = single

        self._server = _FleetServer((host, port), Handler)
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
        for a in list(self.agents.values()):
            for streams in list(a.streams.values()):
                for stream in list(streams):
                    with contextlib.suppress(queue.Full):
                        stream.put_nowait(None)  # the server goes away: its streams are cut, not ended
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
