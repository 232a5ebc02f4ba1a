"""The agent client against a real loopback agent server: classification, auth, limits, safety."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from exec_watchdog import wiring
from exec_watchdog.adapters.agent_api import Evidence, Known, LastError, Unreachable, agent_token, enrich_error
from exec_watchdog.adapters.agent_http import HttpAgentApi
from exec_watchdog.adapters.circuit_breaker import CircuitBreaker
from exec_watchdog.demo.local_broker import free_port
from exec_watchdog.demo.standin_fleet import StandinFleet
from exec_watchdog.settings import Settings

BOT = "research-bot"


@pytest.fixture
async def client(fleet: StandinFleet) -> AsyncIterator[HttpAgentApi]:
    api = HttpAgentApi(fleet.url_template, total_timeout_s=0.4, retry_base_s=0.01)
    yield api
    await api.aclose()


async def test_running_lists_running_recently_completed_and_pending(fleet: StandinFleet, client: HttpAgentApi) -> None:
    fleet.start_execution(BOT, "run-1")
    fleet.start_execution(BOT, "done-1")
    fleet.finish(BOT, "done-1")
    fleet.queue(BOT, "queued-1")
    known = await client.known_executions(BOT)
    assert known == Known(frozenset({"run-1"}), frozenset({"done-1"}), frozenset({"queued-1"}))
    assert known.ids == {"run-1", "done-1", "queued-1"} and known.alive == {"run-1", "queued-1"}


async def test_status_and_terminate_follow_the_agent_api(fleet: StandinFleet, client: HttpAgentApi) -> None:
    fleet.start_execution(BOT, "x-1")
    assert await client.status(BOT, "x-1") == "running"
    assert await client.status(BOT, "never-was") == "not_found"
    assert await client.terminate(BOT, "x-1") == "ok"
    assert await client.status(BOT, "x-1") == "killed"  # ended by SIGINT: what a terminate does
    fleet.start_execution(BOT, "x-2")
    fleet.finish(BOT, "x-2", returncode=0)
    assert await client.status(BOT, "x-2") == "finished"  # ended by itself
    assert await client.terminate(BOT, "x-1") == "already_finished"
    assert await client.terminate(BOT, "never-was") == "not_found"
    assert await client.last_error(BOT, "x-1") is None  # ended: the agent dropped its log buffer
    assert await client.last_error(BOT, "never-was") is None
    fleet.start_execution(BOT, "x-3")
    assert await client.last_error(BOT, "x-3") is None  # running, nothing went wrong yet
    fleet.agent(BOT).errors["x-3"] = ("tool_error", "disk full")
    assert await client.last_error(BOT, "x-3") == LastError("tool_error", "disk full")


@pytest.mark.parametrize("mode", ["down", "unauthorized", "garbage", "slow", "redirect"])
async def test_anything_but_a_clear_answer_is_unreachable_never_gone(
    fleet: StandinFleet, client: HttpAgentApi, mode: str
) -> None:
    fleet.set_mode(BOT, mode, slow_s=1.0)  # type: ignore[arg-type]
    assert isinstance(await client.known_executions(BOT), Unreachable)
    assert isinstance(await client.status(BOT, "x-1"), Unreachable)
    assert await client.terminate(BOT, "x-1") == "failed"


async def test_a_refused_connection_is_unreachable() -> None:
    api = HttpAgentApi(f"http://127.0.0.1:{free_port()}/{{agent_name}}", read_retries=0)
    try:
        assert isinstance(await api.known_executions(BOT), Unreachable)
        assert await api.terminate(BOT, "x-1") == "failed"
    finally:
        await api.aclose()


async def test_reads_are_retried_but_terminate_is_not(fleet: StandinFleet, client: HttpAgentApi) -> None:
    fleet.start_execution(BOT, "x-1")
    fleet.fail_next(BOT, 2)
    assert isinstance(await client.known_executions(BOT), Known)  # 503, 503, then the answer
    fleet.fail_next(BOT, 1)
    assert await client.terminate(BOT, "x-1") == "failed"
    assert fleet.terminates[(BOT, "x-1")] == 0  # the 503 came before the agent did anything


async def test_the_hmac_token_is_sent_and_a_wrong_one_is_refused() -> None:
    fleet = StandinFleet(auth_secret="s3cret")
    fleet.start()
    fleet.start_execution(BOT, "x-1")
    good = HttpAgentApi(fleet.url_template, auth_secret="s3cret")
    bad = HttpAgentApi(fleet.url_template, auth_secret="wrong", read_retries=0)
    none = HttpAgentApi(fleet.url_template, read_retries=0)
    try:
        assert isinstance(await good.known_executions(BOT), Known)
        assert isinstance(await bad.known_executions(BOT), Unreachable)
        assert isinstance(await none.known_executions(BOT), Unreachable)
    finally:
        for api in (good, bad, none):
            await api.aclose()
        fleet.stop()


def test_the_token_is_hmac_sha256_of_the_versioned_agent_name() -> None:
    import hashlib
    import hmac

    expected = hmac.new(b"k", b"trinity-agent-auth:v1:research-bot", hashlib.sha256).hexdigest()
    assert agent_token("k", "research-bot") == expected


async def test_a_static_token_is_an_option() -> None:
    fleet = StandinFleet(static_token="fixed-token")
    fleet.start()
    api = HttpAgentApi(fleet.url_template, static_token="fixed-token")
    try:
        assert isinstance(await api.known_executions(BOT), Known)
    finally:
        await api.aclose()
        fleet.stop()


async def test_concurrent_calls_per_agent_are_limited(fleet: StandinFleet) -> None:
    fleet.set_mode(BOT, "slow", slow_s=0.3)
    api = HttpAgentApi(fleet.url_template, max_concurrency=2, read_retries=0)
    try:
        await asyncio.gather(*(api.status(BOT, f"x-{n}") for n in range(6)))
    finally:
        await api.aclose()
    assert fleet.agent(BOT).max_in_flight == 2


async def test_the_circuit_opens_after_repeated_failures_and_stops_calling(fleet: StandinFleet) -> None:
    fleet.set_mode(BOT, "down")
    api = HttpAgentApi(fleet.url_template, read_retries=0, breaker=CircuitBreaker(failures=3, reset_s=60))
    try:
        for _ in range(3):
            await api.known_executions(BOT)
        sent = fleet.requests
        answer = await api.status(BOT, "x-1")
        assert isinstance(answer, Unreachable) and "circuit open" in answer.why
        assert fleet.requests == sent
        assert isinstance(await api.known_executions("other-bot"), Known)  # per agent
    finally:
        await api.aclose()


async def test_an_agent_that_answers_again_is_found_by_the_next_due_probe_not_after_the_cool_down(
    fleet: StandinFleet,
) -> None:
    fleet.set_mode(BOT, "down")
    fleet.start_execution(BOT, "x-1")
    api = HttpAgentApi(fleet.url_template, read_retries=0, breaker=CircuitBreaker(failures=3, reset_s=600))
    try:
        for _ in range(3):
            await api.known_executions(BOT)
        fleet.set_mode(BOT, "slow", slow_s=0.5)
        sent = fleet.requests
        first, second = await asyncio.gather(api.known_executions(BOT), api.known_executions(BOT))
        assert fleet.requests == sent + 1  # one trial at a time through the open circuit
        assert isinstance(first, Known) and "x-1" in first.running
        assert isinstance(second, Unreachable) and "circuit open" in second.why
        assert await api.status(BOT, "x-1") == "running"  # the trial closed the circuit for every call
    finally:
        await api.aclose()


def test_a_half_open_circuit_lets_one_trial_through() -> None:
    now = [0.0]
    breaker = CircuitBreaker(failures=2, reset_s=10, clock=lambda: now[0])
    breaker.record("a", ok=False)
    breaker.record("a", ok=False)
    assert not breaker.allow("a")
    now[0] = 11
    assert breaker.allow("a") and not breaker.allow("a")  # one trial at a time
    breaker.record("a", ok=True)
    assert breaker.allow("a") and not breaker.is_open("a")


async def test_an_agent_with_a_url_of_its_own_is_called_there_and_the_others_by_the_template(
    fleet: StandinFleet,
) -> None:
    fleet.start_execution("special", "x-1")
    api = HttpAgentApi(
        "http://agent-{agent_name}.invalid:8000",
        agent_urls={"special": fleet.url_template.format(agent_name="special")},
    )
    try:
        assert api.url("other", "/api/executions/running") == "http://agent-other.invalid:8000/api/executions/running"
        answer = await api.known_executions("special")
        assert isinstance(answer, Known) and answer.running == {"x-1"}
        assert isinstance(await api.known_executions("Special"), Unreachable)  # a name must still match the pattern
    finally:
        await api.aclose()


@pytest.mark.parametrize(
    "agent_name",
    ["../x", "a@evil", "%2e%2e", "x" * 300, "evil.com/", "a:b", "UPPER", "a/b", "", "a b", "a\nb"],
)
async def test_a_bad_agent_name_never_produces_a_request(
    fleet: StandinFleet, client: HttpAgentApi, agent_name: str
) -> None:
    assert isinstance(await client.known_executions(agent_name), Unreachable)
    assert isinstance(await client.status(agent_name, "x-1"), Unreachable)
    assert await client.terminate(agent_name, "x-1") == "failed"
    assert await client.last_error(agent_name, "x-1") is None
    assert fleet.requests == 0


@pytest.mark.parametrize("execution_id", ["../../admin", "x/y", "%2e%2e", "x" * 129, "a?b=c", "a#b", ".", "..", "x\n"])
async def test_a_bad_execution_id_never_produces_a_request(
    fleet: StandinFleet, client: HttpAgentApi, execution_id: str
) -> None:
    assert isinstance(await client.status(BOT, execution_id), Unreachable)
    assert await client.terminate(BOT, execution_id) == "failed"
    assert fleet.requests == 0


async def test_an_execution_id_is_one_percent_encoded_path_segment(fleet: StandinFleet, client: HttpAgentApi) -> None:
    assert client.url(BOT, "/api/executions/{id}/status", "run:42").endswith("/api/executions/run%3A42/status")
    fleet.start_execution(BOT, "run:42")
    assert await client.status(BOT, "run:42") == "running"  # the agent decodes the segment back
    assert await client.terminate(BOT, "run:42") == "ok"


async def test_secrets_and_tokens_never_appear_in_logs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    fleet = StandinFleet(auth_secret="right-secret")
    fleet.start()
    token = agent_token("super-secret-value", BOT)
    api = HttpAgentApi(fleet.url_template, auth_secret="super-secret-value", read_retries=1, retry_base_s=0.01)
    caplog.set_level(logging.DEBUG)
    try:
        answers = [await api.known_executions(BOT), await api.status(BOT, "x"), await api.terminate(BOT, "x")]
    finally:
        await api.aclose()
        fleet.stop()
    text = caplog.text + repr(answers)
    assert "super-secret-value" not in text and token not in text


def test_the_error_text_is_enriched_the_way_trinity_does_it() -> None:
    assert enrich_error("Original", None) == "Original"
    assert enrich_error("Original", LastError("T", "boom")) == "Original. Cleanup: boom"
    assert len(enrich_error("Original", LastError("T", "x" * 5000))) == 2000


def test_the_circuit_opens_at_exactly_its_threshold_of_consecutive_failures_for_exactly_its_cool_down() -> None:
    now = [0.0]
    breaker = CircuitBreaker(failures=3, reset_s=10, clock=lambda: now[0])
    for ok in (False, False, True, False, False):  # a success starts the count again
        breaker.record("a", ok=ok)
    assert breaker.closed("a") and not breaker.is_open("a")
    breaker.record("a", ok=False)  # the third in a row
    assert breaker.is_open("a") and not breaker.allow("a") and breaker.allow("b")
    now[0] = 10.0  # exactly the cool-down later: half-open
    assert not breaker.is_open("a") and not breaker.closed("a")
    assert breaker.allow("a") and not breaker.allow("a")  # its one trial


async def test_a_client_built_without_settings_keeps_the_settings_defaults() -> None:
    def limits(api: HttpAgentApi) -> tuple[object, ...]:
        timeout, breaker = api._client.timeout, api._breaker  # what the constructor made of its arguments
        calls = api._slots[BOT]._value
        return timeout.connect, timeout.read, api._read_retries, calls, breaker.threshold, breaker.reset_s

    from_settings, bare = wiring.agent_api(Settings()), HttpAgentApi(Settings().agent_url_template)
    try:
        assert limits(bare) == limits(from_settings) == (5, 15, 2, 4, 5, 30)
    finally:
        await from_settings.aclose()
        await bare.aclose()


def test_kept_evidence_reads_back_and_the_earlier_form_of_a_last_error_alone_still_reads() -> None:
    evidence = Evidence(LastError("tool_error", "disk full"), ('{"type": "user"}', "two"))
    assert Evidence.from_json(evidence.to_json()) == evidence
    assert Evidence.from_json('{"error_type": "T", "error_message": "boom"}') == Evidence(LastError("T", "boom"))
    tail_only = Evidence(None, ("entry",))
    assert Evidence.from_json(tail_only.to_json()) == tail_only and tail_only
    assert not Evidence(None)
