"""What exec-watchdog asks agents (contract §4), as outcomes: never exceptions, never "gone" by accident.

Anything but a clear answer (401, 5xx, timeouts, refused connections, malformed bodies, an open
circuit) is `Unreachable`, which the core never takes for "gone".
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Literal, Protocol

TerminateOutcome = Literal["ok", "already_finished", "not_found", "failed"]
StatusOutcome = Literal["running", "finished", "killed", "not_found"]
"""`killed`: it ended by a signal (the agent's returncode says SIGINT, SIGKILL or SIGTERM), as a terminate ends it."""


@dataclass(frozen=True, slots=True)
class Known:
    """What an agent reports: running, recently completed, and pending (queued) executions."""

    running: frozenset[str]
    recently_completed: frozenset[str] = frozenset()
    pending: frozenset[str] = frozenset()

    @property
    def ids(self) -> frozenset[str]:
        """Known to the agent: not an orphan."""
        return self.running | self.recently_completed | self.pending

    @property
    def alive(self) -> frozenset[str]:
        """Still going (running or queued): what deserves a heartbeat."""
        return self.running | self.pending


@dataclass(frozen=True, slots=True)
class Unreachable:
    why: str


@dataclass(frozen=True, slots=True)
class LastError:
    error_type: str
    error_message: str


@dataclass(frozen=True, slots=True)
class Evidence:
    """What an effect found beside its outcome: before a terminate, the agent's last error and the
    latest entries of its log (the agent drops both when the execution ends); for a probe the agent
    did not answer, why."""

    last_error: LastError | None
    log_tail: tuple[str, ...] = ()
    unreachable: str | None = None
    """Why a probe's agent did not answer (refused, HTTP 401, no whole reply within 4 s, ...)."""

    def __bool__(self) -> bool:
        return self.last_error is not None or bool(self.log_tail) or self.unreachable is not None

    def to_json(self) -> str:
        """The form kept with an outbox row (`from_json` reads it back)."""
        kept: dict[str, object] = {"log_tail": list(self.log_tail)}
        if self.unreachable is not None:
            kept["unreachable"] = self.unreachable
        if self.last_error is not None:
            kept |= {"error_type": self.last_error.error_type, "error_message": self.last_error.error_message}
        return json.dumps(kept)

    @classmethod
    def from_json(cls, text: str) -> Evidence:
        """Also the earlier form, a last error alone."""
        kept = json.loads(text)
        message = kept.get("error_message")
        last = LastError(kept.get("error_type") or "", message) if message else None
        unreachable = kept.get("unreachable")
        return cls(last, tuple(str(entry) for entry in kept.get("log_tail", [])), unreachable)


class AgentApi(Protocol):
    async def known_executions(self, agent_name: str) -> Known | Unreachable: ...

    async def status(self, agent_name: str, execution_id: str) -> StatusOutcome | Unreachable: ...

    async def terminate(self, agent_name: str, execution_id: str) -> TerminateOutcome: ...

    async def last_error(self, agent_name: str, execution_id: str) -> LastError | None: ...

    async def log_tail(self, agent_name: str, execution_id: str, keep: int = 10) -> list[str]: ...

    async def aclose(self) -> None: ...


def agent_token(secret: str, agent_name: str) -> str:
    """`X-Trinity-Agent-Token`: hex HMAC-SHA256 of "trinity-agent-auth:v1:" + agent name."""
    message = f"trinity-agent-auth:v1:{agent_name}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


MAX_ERROR_CHARS = 2000


def enrich_error(original: str, last: LastError | None) -> str:
    """The platform's error text with the agent's own last error, the way Trinity writes it."""
    if last is None or not last.error_message:
        return original[:MAX_ERROR_CHARS]
    return f"{original}. Cleanup: {last.error_message}"[:MAX_ERROR_CHARS]
