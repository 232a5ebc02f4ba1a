"""Trinity's Redis (contract §5a): release an execution's capacity slot, tell the platform's UI.

Keys and fields as Trinity's own capacity and event-bus code use them: the slot is member
`{execution_id}` of the ZSET `agent:slots:{agent_name}` plus the HASH
`agent:slot:{agent_name}:{execution_id}` (released by ZREM and DEL: idempotent, a slot that is not
there is fine); the UI listens to the stream `trinity:events`, whose entries carry `payload` (JSON),
`scope` and `agent_name`.
"""

from __future__ import annotations

import json
from typing import Literal

import redis.asyncio as aioredis
from redis.exceptions import RedisError

STREAM_KEY = "trinity:events"
STREAM_MAXLEN = 10_000
RedisOutcome = Literal["ok", "failed"]


def slot_keys(agent_name: str, execution_id: str) -> tuple[str, str]:
    return f"agent:slots:{agent_name}", f"agent:slot:{agent_name}:{execution_id}"


def ui_payload(agent_name: str, execution_id: str, action: str, reason: str, timestamp: str) -> str:
    return json.dumps(
        {
            "type": "watchdog_recovery",
            "agent_name": agent_name,
            "execution_id": execution_id,
            "action": action,
            "reason": reason,
            "timestamp": timestamp,
        }
    )


class TrinityRedis:
    def __init__(self, url: str) -> None:
        self._redis = aioredis.from_url(url, decode_responses=True, socket_timeout=5, socket_connect_timeout=5)

    async def release_slot(self, agent_name: str, execution_id: str) -> RedisOutcome:
        zset, slot = slot_keys(agent_name, execution_id)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.zrem(zset, execution_id)
                pipe.delete(slot)
                await pipe.execute()
        except (RedisError, OSError):
            return "failed"
        return "ok"

    async def tell_ui(self, agent_name: str, payload: str) -> RedisOutcome:
        fields = {"payload": payload, "scope": "all", "agent_name": agent_name}
        try:
            await self._redis.xadd(STREAM_KEY, fields, maxlen=STREAM_MAXLEN, approximate=True)  # type: ignore[arg-type]
        except (RedisError, OSError):
            return "failed"
        return "ok"

    async def aclose(self) -> None:
        await self._redis.aclose()
