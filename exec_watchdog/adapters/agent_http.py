"""The agent API over httpx: URLs only from configuration and validated names, bounded and retried reads.

- An agent's base URL is its entry in `AGENT_URLS`, else `AGENT_URL_TEMPLATE` with only
  `{agent_name}` substituted, and only after the name matched the contract's pattern; execution ids
  in paths are checked the same way. Redirects are not followed.
- Read calls (`running`, `status`, `last-error`) are retried with jittered exponential backoff on
  timeouts, refused connections and 5xx; `terminate` is never retried here (the core retries it
  with the same command id); a log stream's replay is read once, as evidence, within a deadline.
- At most `max_concurrency` calls per agent at once, and a circuit breaker per agent.
- Tokens and secrets are only ever put in request headers: never in errors, logs or metrics.
"""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, JsonValue, ValidationError

from exec_watchdog.adapters.agent_api import (
    MAX_ERROR_CHARS,
    Known,
    LastError,
    StatusOutcome,
    TerminateOutcome,
    Unreachable,
    agent_token,
)
from exec_watchdog.adapters.agent_stream import read_tail
from exec_watchdog.adapters.circuit_breaker import CircuitBreaker
from schemas.fields import AGENT_NAME_PATTERN, EXECUTION_ID_PATTERN, whole_match

_AGENT_NAME = whole_match(AGENT_NAME_PATTERN)
_EXECUTION_ID = whole_match(EXECUTION_ID_PATTERN)
_RETRYABLE_STATUS = frozenset({500, 502, 503, 504})
_BY_SIGNAL = frozenset({-2, -9, -15, 130, 137, 143})
"""Returncodes of a process ended by SIGINT, SIGKILL or SIGTERM (negative from Python, 128+N from a shell)."""


MAX_REPLY_BYTES = 4 * 1024 * 1024
"""A reply larger than this is not read to its end: the agent is unreachable for that call."""


class _Reply(BaseModel):
    """The contract's shapes, exactly: every field it names present, no type coerced; extra fields are
    ignored (agents add fields over time, as Trinity added `pending_ids`)."""

    model_config = ConfigDict(strict=True, extra="ignore")


class _RunningEntry(_Reply):
    execution_id: str
    pid: JsonValue
    started_at: JsonValue
    metadata: JsonValue


class _RunningReply(_Reply):
    executions: list[_RunningEntry]
    recently_completed_ids: list[str]
    pending_ids: list[str] | None = None


class _StatusReply(_Reply):
    execution_id: str
    running: bool
    returncode: int | None
    started_at: JsonValue
    metadata: JsonValue


class _TerminateReply(_Reply):
    status: Literal["terminated", "already_finished"]


class _LastErrorReply(BaseModel):
    error_type: str | None = None
    error_message: str | None = None


@dataclass(frozen=True, slots=True)
class _Answer:
    """What a call brought back, read whole."""

    status_code: int
    content: bytes


class Refused(Exception):
    """No request was (or may be) sent: a bad name or id, or an open circuit."""


class HttpAgentApi:
    def __init__(
        self,
        url_template: str,
        *,
        agent_urls: dict[str, str] | None = None,
        auth_secret: str | None = None,
        static_token: str | None = None,
        connect_timeout_s: float = 5.0,
        total_timeout_s: float = 15.0,
        read_retries: int = 2,
        retry_base_s: float = 0.25,
        max_concurrency: int = 4,
        breaker: CircuitBreaker | None = None,
        last_error_timeout_s: float = 2.0,
    ) -> None:
        self._template = url_template
        self._urls = {name: url.rstrip("/") for name, url in (agent_urls or {}).items()}
        self._secret = auth_secret
        self._static_token = static_token
        self._read_retries = read_retries
        self._retry_base_s = retry_base_s
        self._total_s = total_timeout_s
        self._last_error_s = last_error_timeout_s
        self._breaker = breaker or CircuitBreaker(failures=5, reset_s=30.0)
        self._slots: defaultdict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(max_concurrency))
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(total_timeout_s, connect=connect_timeout_s),
            follow_redirects=False,
        )

    # ---- the four calls --------------------------------------------------------------------------

    async def known_executions(self, agent_name: str) -> Known | Unreachable:
        response = await self._call(
            agent_name, "GET", "/api/executions/running", retries=self._read_retries, scheduled=True
        )
        if isinstance(response, Unreachable):
            return response
        if response.status_code != 200:
            return Unreachable(f"HTTP {response.status_code}")
        try:
            reply = _RunningReply.model_validate_json(response.content)
        except ValidationError:
            return Unreachable("malformed reply to GET /api/executions/running")
        return Known(
            running=frozenset(e.execution_id for e in reply.executions),
            recently_completed=frozenset(reply.recently_completed_ids),
            pending=frozenset(reply.pending_ids or ()),
        )

    async def status(self, agent_name: str, execution_id: str) -> StatusOutcome | Unreachable:
        path = "/api/executions/{id}/status"
        response = await self._call(agent_name, "GET", path, execution_id=execution_id, retries=self._read_retries)
        if isinstance(response, Unreachable):
            return response
        if response.status_code == 404:
            return "not_found"
        if response.status_code != 200:
            return Unreachable(f"HTTP {response.status_code}")
        try:
            reply = _StatusReply.model_validate_json(response.content)
        except ValidationError:
            return Unreachable("malformed reply to GET /api/executions/{id}/status")
        if reply.running:
            return "running"
        return "killed" if reply.returncode is not None and reply.returncode in _BY_SIGNAL else "finished"

    async def terminate(self, agent_name: str, execution_id: str) -> TerminateOutcome:
        path = "/api/executions/{id}/terminate"
        response = await self._call(agent_name, "POST", path, execution_id=execution_id, retries=0)
        if isinstance(response, Unreachable):
            return "failed"
        if response.status_code == 404:
            return "not_found"
        if response.status_code != 200:
            return "failed"
        try:
            reply = _TerminateReply.model_validate_json(response.content)
        except ValidationError:
            return "failed"
        return "ok" if reply.status == "terminated" else "already_finished"

    async def last_error(self, agent_name: str, execution_id: str) -> LastError | None:
        path = "/api/executions/{id}/last-error"
        response = await self._call(
            agent_name, "GET", path, execution_id=execution_id, retries=0, total_s=self._last_error_s
        )
        if isinstance(response, Unreachable) or response.status_code != 200:
            return None
        try:
            reply = _LastErrorReply.model_validate_json(response.content)
        except ValidationError:
            return None
        if not reply.error_message:
            return None
        # An agent's words are kept (outbox, audit, the platform's error): at most Trinity's own limit.
        return LastError((reply.error_type or "")[:MAX_ERROR_CHARS], reply.error_message[:MAX_ERROR_CHARS])

    async def log_tail(self, agent_name: str, execution_id: str, keep: int = 10) -> list[str]:
        """The last entries of the execution's log the agent still holds (its stream's replay), read
        within the last-error deadline; none when the agent holds none or does not answer."""
        try:
            url = self.url(agent_name, "/api/executions/{id}/stream", execution_id)
        except Refused:
            return []
        if not self._breaker.closed(agent_name):
            return []  # an agent failing its calls is not asked for more
        async with self._slots[agent_name]:
            return await read_tail(self._client, url, self.headers(agent_name), keep=keep, within_s=self._last_error_s)

    async def aclose(self) -> None:
        await self._client.aclose()

    # ---- plumbing --------------------------------------------------------------------------------

    def url(self, agent_name: str, path: str, execution_id: str | None = None) -> str:
        """The one place a URL is made: from the agent's own base URL (`AGENT_URLS`), else the template
        and a name that matched the pattern; the execution id fills `{id}` in `path`, percent-encoded
        as one segment. Nothing from an event is a URL: a name only selects a configured base."""
        if not _AGENT_NAME.match(agent_name):
            raise Refused("agent name does not match the contract's pattern")
        if execution_id is not None:
            if not _EXECUTION_ID.match(execution_id):
                raise Refused("execution id does not match the contract's pattern")
            path = path.format(id=quote(execution_id, safe=""))
        base = self._urls.get(agent_name) or self._template.format(agent_name=quote(agent_name, safe="")).rstrip("/")
        return base + path

    def headers(self, agent_name: str) -> dict[str, str]:
        if self._secret is not None:
            return {"X-Trinity-Agent-Token": agent_token(self._secret, agent_name)}
        if self._static_token is not None:
            return {"X-Trinity-Agent-Token": self._static_token}
        return {}

    async def _call(
        self,
        agent_name: str,
        method: str,
        path: str,
        *,
        execution_id: str | None = None,
        retries: int,
        total_s: float | None = None,
        scheduled: bool = False,
    ) -> _Answer | Unreachable:
        """`scheduled`: a probe the core decided is due, let through an open circuit as its one trial."""
        try:
            url = self.url(agent_name, path, execution_id)
        except Refused as refusal:
            return Unreachable(str(refusal))
        if not self._breaker.closed(agent_name):
            retries = 0  # a trial (open or half-open) is one request
        if not self._breaker.allow(agent_name, scheduled=scheduled):
            return Unreachable("circuit open: the agent failed repeatedly; calls are paused")
        outcome = await self._once(agent_name, method, url, total_s or self._total_s)
        for attempt in range(1, retries + 1):
            if not _worth_retrying(outcome):
                break
            await asyncio.sleep(retry_delay_s(self._retry_base_s, attempt, random.random()))
            outcome = await self._once(agent_name, method, url, total_s or self._total_s)
        ok = isinstance(outcome, _Answer) and (outcome.status_code < 500 and outcome.status_code != 401)
        self._breaker.record(agent_name, ok)
        return outcome

    async def _once(self, agent_name: str, method: str, url: str, total_s: float) -> _Answer | Unreachable:
        """One request, headers and body within `total_s` all told and the body within MAX_REPLY_BYTES:
        an agent that answers a byte at a time, or never, or endlessly, costs one deadline, no more."""
        async with self._slots[agent_name]:
            try:
                async with asyncio.timeout(total_s):
                    async with self._client.stream(method, url, headers=self.headers(agent_name)) as response:
                        body = bytearray()
                        async for chunk in response.aiter_bytes():
                            body += chunk
                            if len(body) > MAX_REPLY_BYTES:
                                return Unreachable(f"reply larger than {MAX_REPLY_BYTES} bytes")
                        return _Answer(response.status_code, bytes(body))
            except TimeoutError:
                return Unreachable(f"no whole reply within {total_s:g} s")
            except httpx.HTTPError as error:
                return Unreachable(type(error).__name__)  # the type only: messages can carry the URL


def retry_delay_s(base_s: float, attempt: int, draw: float) -> float:
    """The pause before retry number `attempt` (1, 2, ...): `base_s` doubled each time, times a jitter
    of 0.5 to 1.5 (`draw` in [0, 1)), so agents retried together spread out."""
    return base_s * 2.0 ** (attempt - 1) * (0.5 + draw)


def _worth_retrying(outcome: _Answer | Unreachable) -> bool:
    if isinstance(outcome, Unreachable):
        return True
    return outcome.status_code in _RETRYABLE_STATUS
