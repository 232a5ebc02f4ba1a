"""How the agent client fails: what it says of each failure (the effect runner logs it), what counts
against an agent's circuit, what is retried and how long each call may take. Real loopback servers
that answer by script."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import pytest

from exec_watchdog.adapters.agent_api import Known, LastError, Unreachable
from exec_watchdog.adapters.agent_http import MAX_REPLY_BYTES, HttpAgentApi, retry_delay_s
from exec_watchdog.adapters.circuit_breaker import CircuitBreaker
from exec_watchdog.demo.local_broker import free_port
from exec_watchdog.demo.standin_fleet import StandinFleet
from tests.services.hostile_agents import HANG, ScriptedAgent, reply, scripted

BOT = "research-bot"
RUNNING = {"executions": [], "recently_completed_ids": []}


def ok(body: Any) -> bytes:
    return reply("200 OK", json.dumps(body).encode(), Content_Type="application/json")


def client(agent: ScriptedAgent, **options: Any) -> HttpAgentApi:
    return HttpAgentApi(agent.url_template + "/{agent_name}", **{"read_retries": 0, **options})


async def ask(api: HttpAgentApi, call: Callable[[HttpAgentApi], Awaitable[Any]]) -> Any:
    try:
        return await call(api)
    finally:
        await api.aclose()


def known(api: HttpAgentApi) -> Awaitable[Any]:
    return api.known_executions(BOT)


def status(api: HttpAgentApi) -> Awaitable[Any]:
    return api.status(BOT, "x-1")


@pytest.mark.parametrize(
    ("script", "call", "why"),
    [
        ([reply("401 Unauthorized")], known, "HTTP 401"),
        ([reply("500 Internal Server Error")], status, "HTTP 500"),
        ([ok({"executions": "none"})], known, "malformed reply to GET /api/executions/running"),
        ([ok({"running": "yes"})], status, "malformed reply to GET /api/executions/{id}/status"),
        ([HANG], known, "no whole reply within 0.3 s"),
        ([None], known, "RemoteProtocolError"),
        ([reply("200 OK", b" " * (MAX_REPLY_BYTES + 1))], known, f"reply larger than {MAX_REPLY_BYTES} bytes"),
        (
            [ok(RUNNING)],
            lambda api: api.known_executions("../admin"),
            "agent name does not match the contract's pattern",
        ),
        ([ok(RUNNING)], lambda api: api.status(BOT, "a/b"), "execution id does not match the contract's pattern"),
    ],
)
async def test_each_failure_says_what_it_was(
    script: list[bytes | None], call: Callable[[HttpAgentApi], Awaitable[Any]], why: str
) -> None:
    with scripted(*script) as agent:
        assert await ask(client(agent, total_timeout_s=0.3), call) == Unreachable(why)


async def test_a_refused_connection_and_an_open_circuit_say_so() -> None:
    api = HttpAgentApi(f"http://127.0.0.1:{free_port()}", read_retries=0, breaker=CircuitBreaker(1, 60))
    try:
        assert await api.known_executions(BOT) == Unreachable("ConnectError")
        assert await api.status(BOT, "x-1") == Unreachable(
            "circuit open: the agent failed repeatedly; calls are paused"
        )
    finally:
        await api.aclose()


async def test_a_reply_of_exactly_the_size_limit_is_read() -> None:
    body = json.dumps(RUNNING).encode()
    with scripted(reply("200 OK", body + b" " * (MAX_REPLY_BYTES - len(body)))) as agent:
        assert await ask(client(agent), known) == Known(frozenset(), frozenset(), frozenset())


async def test_a_long_running_list_arriving_in_many_pieces_is_read_whole() -> None:
    ids = [f"x-{n}" for n in range(5000)]
    entries = [
        {"execution_id": x, "pid": n, "started_at": "2026-12-02T00:00:00Z", "metadata": {}} for n, x in enumerate(ids)
    ]
    with scripted(ok({"executions": entries, "recently_completed_ids": []})) as agent:
        answer = await ask(client(agent), known)
    assert isinstance(answer, Known) and answer.running == frozenset(ids)


@pytest.mark.parametrize(
    ("failure", "counts"),
    [(reply("500 Internal Server Error"), True), (reply("401 Unauthorized"), True), (reply("404 Not Found"), False)],
)
async def test_server_errors_and_refused_credentials_count_against_the_circuit_and_a_404_does_not(
    failure: bytes, counts: bool
) -> None:
    breaker = CircuitBreaker(2, 60)
    with scripted(failure) as agent:
        await ask(client(agent, breaker=breaker), lambda api: asyncio.gather(status(api), status(api)))
    assert breaker.is_open(BOT) is counts


async def test_a_read_is_retried_after_a_dropped_connection_and_after_a_503() -> None:
    with scripted(None, reply("503 Service Unavailable"), ok(RUNNING)) as agent:
        answer = await ask(client(agent, read_retries=2, retry_base_s=0.01), known)
        assert isinstance(answer, Known) and len(agent.paths) == 3


def test_retries_back_off_doubling_from_the_base_with_a_jitter_of_half_to_one_and_a_half() -> None:
    assert [retry_delay_s(0.25, attempt, 0.5) for attempt in (1, 2, 3)] == [0.25, 0.5, 1.0]
    assert (retry_delay_s(0.25, 2, 0.0), retry_delay_s(0.25, 2, 1.0)) == (0.25, 0.75)


async def test_by_default_a_read_is_retried_within_half_a_second() -> None:
    with scripted(reply("503 Service Unavailable"), ok(RUNNING)) as agent:
        started = time.monotonic()
        answer = await ask(HttpAgentApi(agent.url_template + "/{agent_name}"), known)
        assert isinstance(answer, Known) and time.monotonic() - started < 0.6  # 0.25 s x 0.5..1.5


async def test_a_retry_that_hangs_ends_at_the_total_deadline_too() -> None:
    with scripted(reply("503 Service Unavailable"), HANG) as agent:
        answer = await ask(client(agent, read_retries=1, retry_base_s=0.01, total_timeout_s=0.3), known)
        assert answer == Unreachable("no whole reply within 0.3 s") and len(agent.paths) == 2


async def test_a_retry_carries_the_agents_own_token() -> None:
    fleet = StandinFleet(auth_secret="s3cret")
    fleet.start()
    fleet.fail_next(BOT, 1)
    api = HttpAgentApi(fleet.url_template, auth_secret="s3cret", read_retries=1, retry_base_s=0.01)
    try:
        assert isinstance(await api.known_executions(BOT), Known)  # 503, then the answer
    finally:
        await api.aclose()
        fleet.stop()


async def test_by_default_last_error_waits_two_seconds_at_most() -> None:
    with scripted(HANG) as agent:
        started = time.monotonic()
        assert await ask(HttpAgentApi(agent.url_template + "/{agent_name}"), last_error) is None
        assert 1.9 < time.monotonic() - started < 2.6


async def test_the_trial_through_an_open_circuit_is_one_request_without_retries() -> None:
    breaker = CircuitBreaker(1, 0.05)
    with scripted(reply("503 Service Unavailable")) as agent:
        api = client(agent, read_retries=2, retry_base_s=0.01, breaker=breaker)
        try:
            await api.known_executions(BOT)  # three requests: the first opens the circuit, retries follow
            sent = len(agent.paths)
            await asyncio.sleep(0.1)  # the cool-down is over: the next call is the trial
            assert isinstance(await api.known_executions(BOT), Unreachable)
            assert len(agent.paths) == sent + 1
        finally:
            await api.aclose()


async def test_last_error_is_one_quick_request_and_its_type_may_be_missing() -> None:
    with scripted(HANG) as agent:
        started = time.monotonic()
        assert await ask(client(agent, total_timeout_s=5, last_error_timeout_s=0.3), last_error) is None
        assert time.monotonic() - started < 2
    with scripted(reply("503 Service Unavailable")) as agent:
        assert await ask(client(agent, read_retries=2, retry_base_s=0.01), last_error) is None
        assert len(agent.paths) == 1
    with scripted(ok({"error_message": "boom"})) as agent:
        assert await ask(client(agent), last_error) == LastError("", "boom")
    with scripted(ok({"error_type": "t" * 1_000_000, "error_message": "m" * 1_000_000})) as agent:
        assert await ask(client(agent), last_error) == LastError("t" * 2000, "m" * 2000)  # kept: Trinity's limit


def last_error(api: HttpAgentApi) -> Awaitable[Any]:
    return api.last_error(BOT, "x-1")


async def test_a_redirect_is_not_followed_even_to_an_agent_that_would_say_not_found() -> None:
    with scripted(reply("404 Not Found")) as elsewhere:
        with scripted(
            reply("302 Found", Location=f"{elsewhere.url_template}/{BOT}/api/executions/x-1/status")
        ) as agent:
            assert await ask(client(agent), status) == Unreachable("HTTP 302")
        assert elsewhere.paths == []


@contextmanager
def unanswered_port() -> Iterator[int]:
    """A port whose connects hang: its listen queue is full and nobody accepts."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        with suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    try:
        yield port
    finally:
        for sock in (*fillers, server):
            sock.close()


async def test_a_connect_that_hangs_ends_at_the_connect_timeout() -> None:
    with unanswered_port() as port:
        api = HttpAgentApi(f"http://127.0.0.1:{port}", read_retries=0, connect_timeout_s=0.2, total_timeout_s=5)
        started = time.monotonic()
        assert await ask(api, known) == Unreachable("ConnectTimeout")
        assert time.monotonic() - started < 2


def test_an_agents_own_url_and_the_template_may_end_with_a_slash() -> None:
    api = HttpAgentApi("http://agents.internal/{agent_name}/", agent_urls={"special": "http://10.0.0.9/BOX/"})
    assert api.url("special", "/api/executions/running") == "http://10.0.0.9/BOX/api/executions/running"
    assert api.url(BOT, "/api/executions/running") == f"http://agents.internal/{BOT}/api/executions/running"
    by_host = HttpAgentApi("http://{agent_name}.agents.internal/BOX/")
    assert by_host.url(BOT, "/api/executions/running") == f"http://{BOT}.agents.internal/BOX/api/executions/running"
