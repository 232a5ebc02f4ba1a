"""Where `mark_failed` lands. Without a platform database it is fulfilled by the recovery event alone."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Protocol

MarkOutcome = Literal["ok", "already_finished", "not_found", "failed"]


class Platform(Protocol):
    wants_error_context: bool
    """True when the failure is written somewhere people read it (worth the agent's last error)."""

    async def mark_failed(self, execution_id: str, error: str, completed_at: datetime) -> MarkOutcome: ...

    async def aclose(self) -> None: ...


class NoPlatform:
    """No platform database configured: marking failed is publishing the recovery event."""

    wants_error_context = False

    async def mark_failed(self, execution_id: str, error: str, completed_at: datetime) -> MarkOutcome:
        return "ok"

    async def aclose(self) -> None:
        return None
