"""`exec-watchdog run` as a separate process, watched from outside: its resident memory, its readiness,
how far its store says it has applied, how long it takes to stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, select

from exec_watchdog.adapters.store_tables import partition_state
from exec_watchdog.demo.local_broker import free_port

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Topics:
    lifecycle: str
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:6])

    def env(self) -> dict[str, str]:
        return {
            "WATCHDOG_LIFECYCLE_TOPIC": self.lifecycle,
            "WATCHDOG_GROUP_ID": f"wd-{self.tag}",
            "WATCHDOG_CONTROL_TOPIC": f"control-{self.tag}",
            "WATCHDOG_RECOVERIES_TOPIC": f"rec-{self.tag}",
            "WATCHDOG_DLQ_TOPIC": f"dlq-{self.tag}",
            "WATCHDOG_AUDIT_TOPIC": f"audit-{self.tag}",
        }


class RunProcess:
    """One `exec-watchdog run`, with its own HTTP port and log file; the store is shared by restarts."""

    def __init__(self, bootstrap: str, topics: Topics, database_url: str | None = None, **settings: object) -> None:
        self.dir = Path(tempfile.mkdtemp())
        self.database_url = database_url or f"sqlite:///{self.dir / 'w.db'}"
        self.topics = topics
        self.port = free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHDOG_")}
        self.env.update(topics.env())
        self.env.update(
            {
                "WATCHDOG_KAFKA_BOOTSTRAP": bootstrap,
                "WATCHDOG_DATABASE_URL": self.database_url,
                "WATCHDOG_HTTP_PORT": str(self.port),
            }
        )
        self.env.update(
            {f"WATCHDOG_{k.upper()}": str(v).lower() if isinstance(v, bool) else str(v) for k, v in settings.items()}
        )
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.dir / "run.log"

    def start(self) -> float:
        """Start it; the monotonic time it was started."""
        with open(self.log_path, "ab") as log_file:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "exec_watchdog", "run"],
                env=self.env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        return time.monotonic()

    def rss_bytes(self) -> int:
        assert self.process is not None
        with open(f"/proc/{self.process.pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def ready(self) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self, timeout_s: float = 600) -> float:
        """Seconds until /readyz answers 200."""
        started = time.monotonic()
        while not self.ready():
            self._alive()
            if time.monotonic() - started > timeout_s:
                raise TimeoutError(f"not ready after {timeout_s} s; see {self.log_path}")
            time.sleep(0.05)
        return time.monotonic() - started

    def metric(self, name: str) -> float:
        """The sum of a metric's samples on /metrics (0 when absent)."""
        try:
            text = httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=2).text
        except httpx.HTTPError:
            return 0.0
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))

    def stored_offsets(self) -> int:
        """Lifecycle records the store's snapshots say were applied, over every partition."""
        engine = create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                c = partition_state.c
                query = select(func.coalesce(func.sum(c.lifecycle_offset), 0)).where(
                    c.group_id == f"wd-{self.topics.tag}", c.topic == self.topics.lifecycle
                )
                return int(conn.execute(query).scalar() or 0)
        except Exception:  # the tables may not exist yet
            return 0
        finally:
            engine.dispose()

    def wait_stored(self, total: int, timeout_s: float = 1200) -> float:
        """The monotonic time the store first says every one of `total` lifecycle records was applied."""
        deadline = time.monotonic() + timeout_s
        while self.stored_offsets() < total:
            self._alive()
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{self.stored_offsets()} of {total} applied after {timeout_s} s; see {self.log_path}"
                )
            time.sleep(0.1)
        return time.monotonic()

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 60) -> float:
        """Seconds from the signal to the process's end."""
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(sig)
        self.process.wait(timeout=timeout_s)
        return time.monotonic() - started

    def pause(self) -> None:
        """Freeze it (SIGSTOP): it reads nothing until `resume`, and keeps its group membership as long
        as the session timeout allows."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> float:
        """Let it run again (SIGCONT); the monotonic time it was let go."""
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)
        return time.monotonic()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def _alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"exec-watchdog run ended ({self.process.returncode}); see {self.log_path}")
