"""A slow, hung, drip-feeding, oversized or lying agent costs one deadline per call and is unreachable."""

from __future__ import annotations

import time

import pytest

from exec_watchdog.adapters.agent_api import Known, Unreachable
from exec_watchdog.adapters.agent_http import HttpAgentApi
from exec_watchdog.demo.standin_fleet import StandinFleet
from tests.services.hostile_agents import MODES, Mode, hostile

DEADLINE_S = 1.5


@pytest.mark.parametrize("mode", MODES)
async def test_every_call_to_a_hostile_agent_is_unreachable_within_its_total_deadline(mode: Mode) -> None:
    with hostile(mode) as agent:
        api = HttpAgentApi(agent.url_template + "/{agent_name}", total_timeout_s=DEADLINE_S, read_retries=0)
        try:
            started = time.monotonic()
            known = await api.known_executions("bot-1")
            status = await api.status("bot-1", "x-1")
            terminate = await api.terminate("bot-1", "x-1")
            elapsed = time.monotonic() - started
        finally:
            await api.aclose()
    assert isinstance(known, Unreachable) and isinstance(status, Unreachable), (known, status)
    assert terminate == "failed"  # never "not_found", never "terminated"
    assert elapsed < 3 * DEADLINE_S + 1.5
    assert agent.requests >= 1


async def test_extra_fields_are_ignored_and_a_missing_required_one_makes_the_reply_unreachable(
    fleet: StandinFleet,
) -> None:
    api = HttpAgentApi(fleet.url_template, read_retries=0)
    fleet.start_execution("bot-1", "x-1")
    try:
        assert isinstance(await api.known_executions("bot-1"), Known)  # the stand-in adds no field we need
        assert await api.status("bot-1", "x-1") == "running"
    finally:
        await api.aclose()
