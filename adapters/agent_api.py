"""The agent API exec-watchdog calls (contract §4, Trinity-compatible), over httpx.

Outcomes, never exceptions: anything but a clear answer (401, 5xx, timeouts, refused connections,
malformed bodies) is *unreachable*, which the core never takes for "gone". The URL is built only
from the configured template and an agent name that matched the contract's pattern; no event ever
chooses a URL. Tokens and secrets never appear in errors or logs.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Literal, Protocol

import httpx
from pydantic import BaseModel, ValidationError

from schemas.fields import AGENT_NAME_PATTERN, EXECUTION_ID_PATTERN

TerminateOutcome = Literal["ok", "already_finished", "not_found", "failed"]
StatusOutcome = Literal["running", "finished", "not_found"]
_AGENT_NAME = re.compile(AGENT_NAME_PATTERN)
_EXECUTION_ID = re.compile(EXECUTION_ID_PATTERN)


@dataclass(frozen=True, slots=True)
class Known:
    """The executions an agent knows: running, recently completed, or pending."""

    ids: frozenset[str]


@dataclass(frozen=True, slots=True)
class Unreachable:
    why: str


class AgentApi(Protocol):
    async def known_executions(self, agent_name: str) -> Known | Unreachable: ...

    async def status(self, agent_name: str, execution_id: str) -> StatusOutcome | Unreachable: ...

    async def terminate(self, agent_name: str, execution_id: str) -> TerminateOutcome: ...

    async def aclose(self) -> None: ...


class _RunningEntry(BaseModel):
    execution_id: str


class _RunningReply(BaseModel):
    executions: list[_RunningEntry]
    recently_completed_ids: list[str] = []
    pending_ids: list[str] | None = None


class _StatusReply(BaseModel):
    running: bool


class _TerminateReply(BaseModel):
    status: Literal["terminated", "already_finished"]


def agent_token(secret: str, agent_name: str) -> str:
    """`X-Trinity-Agent-Token`: hex HMAC-SHA256 of "trinity-agent-auth:v1:" + agent name."""
    message = f"trinity-agent-auth:v1:{agent_name}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class HttpAgentApi:
    def __init__(
        self,
        url_template: str,
        *,
        auth_secret: str | None = None,
        connect_timeout_s: float = 5.0,
        total_timeout_s: float = 15.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._template = url_template
        self._secret = auth_secret
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(total_timeout_s, connect=connect_timeout_s),
            follow_redirects=False,
            transport=transport,
        )

    def base_url(self, agent_name: str) -> str:
        if not _AGENT_NAME.match(agent_name):
            raise ValueError("agent name does not match the contract's pattern; no URL is built for it")
        return self._template.format(agent_name=agent_name).rstrip("/")

    def _headers(self, agent_name: str) -> dict[str, str]:
        if self._secret is None:
            return {}
        return {"X-Trinity-Agent-Token": agent_token(self._secret, agent_name)}

    async def known_executions(self, agent_name: str) -> Known | Unreachable:
        try:
            url = f"{self.base_url(agent_name)}/api/executions/running"
            response = await self._client.get(url, headers=self._headers(agent_name))
        except (httpx.HTTPError, ValueError) as error:
            return Unreachable(type(error).__name__)
        if response.status_code != 200:
            return Unreachable(f"HTTP {response.status_code}")
        try:
            reply = _RunningReply.model_validate_json(response.content)
        except ValidationError:
            return Unreachable("malformed reply to GET /api/executions/running")
        ids = {e.execution_id for e in reply.executions}
        ids.update(reply.recently_completed_ids)
        ids.update(reply.pending_ids or ())
        return Known(frozenset(ids))

    async def status(self, agent_name: str, execution_id: str) -> StatusOutcome | Unreachable:
        if not _EXECUTION_ID.match(execution_id):
            return Unreachable("execution id does not match the contract's pattern")
        try:
            url = f"{self.base_url(agent_name)}/api/executions/{execution_id}/status"
            response = await self._client.get(url, headers=self._headers(agent_name))
        except (httpx.HTTPError, ValueError) as error:
            return Unreachable(type(error).__name__)
        if response.status_code == 404:
            return "not_found"
        if response.status_code != 200:
            return Unreachable(f"HTTP {response.status_code}")
        try:
            reply = _StatusReply.model_validate_json(response.content)
        except ValidationError:
            return Unreachable("malformed reply to GET /api/executions/{id}/status")
        return "running" if reply.running else "finished"

    async def terminate(self, agent_name: str, execution_id: str) -> TerminateOutcome:
        if not _EXECUTION_ID.match(execution_id):
            return "failed"
        try:
            url = f"{self.base_url(agent_name)}/api/executions/{execution_id}/terminate"
            response = await self._client.post(url, headers=self._headers(agent_name))
        except (httpx.HTTPError, ValueError):
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

    async def aclose(self) -> None:
        await self._client.aclose()
