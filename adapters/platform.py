"""Where `mark_failed` lands. Without a platform database it is fulfilled by the recovery event alone."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Protocol

MarkOutcome = Literal["ok", "already_finished", "not_found", "failed"]


class Platform(Protocol):
    async def mark_failed(
        self, execution_id: str, error: str, completed_at: datetime, started_at: datetime | None
    ) -> MarkOutcome: ...

    async def aclose(self) -> None: ...


class NoPlatform:
    """No platform database configured: marking failed is publishing the recovery event."""

    async def mark_failed(
        self, execution_id: str, error: str, completed_at: datetime, started_at: datetime | None
    ) -> MarkOutcome:
        return "ok"

    async def aclose(self) -> None:
        return None
