"""One clock, the watchdog's own: no source's stamp and no jump of the ticker's clock kills or blinds.

Liveness, silence and "past its limit" are judged by the ticks. A source's `occurred_at` counts as
claimed within MAX_CLOCK_SKEW_S behind the clock and up to three tick intervals ahead of it, else at
the clock itself; a step between ticks beyond three intervals (an outage, a failover, a jump of the
host's clock either way) is time nobody watched and counts as neither silence nor age.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import Command, InputEvent, Output, RecoveryEvent, Transition
from statemachine import Engine, Policy
from tests.events import T0, lifecycle, probe, result, tick
from tests.examples import examples

X = "exec-1"
HOUR, DAY, YEAR = 3600, 86400, 365 * 86400
BASE = {"heartbeat_timeout_s": 90, "min_age_s": 60, "idle_after_s": 10**6, "default_timeout_s": HOUR}
POLICY = Policy(**BASE, auto_terminate=True)


def feed(engine: Engine, events: list[InputEvent]) -> list[Output]:
    return [o for e in events for o in engine.apply(e)]


def kinds(outputs: list[Output]) -> list[str]:
    return [o.kind for o in outputs if isinstance(o, Command)]


def moves(outputs: list[Output]) -> list[tuple[str, str]]:
    return [(o.from_state.value, o.to_state.value) for o in outputs if isinstance(o, Transition)]


def beating(start: float, stop: float, *, skew: float = 0, ticks_ahead: float = 0) -> list[InputEvent]:
    """A heartbeat (stamped by a clock `skew` off) before every tick (stamped `ticks_ahead` off), 5 s apart."""
    events: list[InputEvent] = []
    t = start
    while t <= stop:
        events += [lifecycle("heartbeat", X, t + skew, event_id=f"hb-{t}"), tick(t + ticks_ahead)]
        t += 5
    return events


def test_a_heartbeat_from_a_fast_clock_never_brings_the_runtime_limit_closer() -> None:
    engine = Engine(POLICY)
    outputs = feed(engine, [lifecycle("started", X, 0), *beating(5, 50 * 60)])
    outputs += feed(engine, [tick(t) for t in range(50 * 60 + 5, 52 * 60, 5)])  # silent: suspected, probed
    assert moves(outputs) == [("running", "suspected")]
    outputs = feed(engine, [lifecycle("heartbeat", X, 52 * 60 + 600, event_id="fast")])  # its clock: 10 min fast
    outputs += feed(engine, beating(52 * 60 + 5, 59 * 60))
    assert moves(outputs) == [("suspected", "running")] and kinds(outputs) == []  # not at 52 of 60 minutes
    assert "beyond MAX_CLOCK_SKEW_S" in outputs[0].cause  # the audit says why its stamp was not taken
    outputs = feed(engine, beating(59 * 60 + 5, 61 * 60))
    assert kinds(outputs) == ["terminate"]  # at its limit, by the watchdog's clock


def test_a_heartbeat_stamped_in_the_future_makes_no_execution_immortal() -> None:
    engine = Engine(POLICY)
    feed(engine, [lifecycle("started", X, 0), tick(1), lifecycle("heartbeat", X, YEAR, event_id="far")])
    outputs = feed(engine, [tick(t) for t in range(5, 200, 5)])
    assert moves(outputs) == [("running", "suspected")]  # silent for 90 s of the watchdog's time


def test_a_start_stamped_in_the_future_counts_from_now() -> None:
    engine = Engine(POLICY)
    feed(engine, [tick(0), lifecycle("started", X, YEAR)])
    outputs = feed(engine, [tick(t) for t in range(5, 200, 5)])
    assert moves(outputs) == [("running", "suspected")]


def test_a_start_decades_ago_is_not_overdue_at_the_first_tick_but_is_after_one_heartbeat_timeout() -> None:
    engine = Engine(POLICY)
    decades = -30 * YEAR
    outputs = feed(engine, [tick(0), lifecycle("started", X, decades), *beating(5, 85)])
    assert kinds(outputs) == []  # watched for less than one heartbeat timeout: nothing yet
    outputs = feed(engine, beating(90, 120))
    assert kinds(outputs) == ["terminate"]  # still running, and by its own claim long past its limit


def test_stamps_read_before_the_first_tick_meet_the_same_rules_at_it() -> None:
    engine = Engine(POLICY)
    feed(engine, [lifecycle("started", X, YEAR), lifecycle("started", "old", -30 * YEAR)])  # no clock yet
    outputs = feed(
        engine, [tick(0), *(e for t in range(5, 200, 5) for e in (lifecycle("heartbeat", "old", t), tick(t)))]
    )
    suspected = [o.execution_id for o in outputs if isinstance(o, Transition) and o.to_state.value == "suspected"]
    assert X in suspected  # not immortal
    assert [o.at for o in outputs if isinstance(o, Command) and o.kind == "terminate"] == [tick(90).now]


def test_a_backlog_start_long_ago_keeps_its_own_or_its_agents_limit_at_the_first_tick() -> None:
    engine = Engine(POLICY.model_copy(update={"agent_timeouts": {"slow-bot": 7200}}))
    feed(
        engine,
        [
            lifecycle("started", "own", -DAY, timeout_seconds=600),
            lifecycle("started", "agent", -DAY, agent_name="slow-bot"),
        ],
    )
    feed(engine, [tick(0)])
    never_overdue_before = {"own": -600 + 90, "agent": -7200 + 90}  # one heartbeat timeout of watching
    assert {x: (engine.records[x].started_at - T0) / 1e6 for x in never_overdue_before} == never_overdue_before


def test_backlog_times_ahead_of_the_first_tick_count_from_it_and_those_within_reach_as_claimed() -> None:
    engine = Engine(POLICY)
    reach = 15  # three tick intervals
    feed(
        engine,
        [lifecycle("started", "far", -10), lifecycle("activity", "far", YEAR), lifecycle("completed", "ended", YEAR)],
    )
    feed(
        engine,
        [
            lifecycle("started", "near", -10),
            lifecycle("activity", "near", reach),
            lifecycle("completed", "edge", reach),
        ],
    )
    feed(engine, [lifecycle("started", "past", -20), lifecycle("activity", "past", -10)])
    feed(engine, [tick(0)])
    times = {x: ((r.last_seen - T0) / 1e6, (r.last_activity - T0) / 1e6) for x, r in engine.records.items()}
    assert times["far"] == (0, 0) and times["near"] == (reach, reach) and times["past"] == (-10, -10)
    assert (engine.records["ended"].ended_at, engine.records["edge"].ended_at) == (T0, T0 + reach * 1_000_000)
    feed(engine, [tick(t) for t in range(5, 3605, 5)])
    assert "ended" not in engine.records  # its end counted from the first tick, and forgotten after the retention


def test_a_clock_stepping_back_moves_every_held_time_back_by_exactly_the_step() -> None:
    engine = Engine(POLICY)
    feed(engine, [tick(100), lifecycle("started", X, 100), tick(105)])
    feed(engine, [tick(55)])  # the ticker's clock stepped back 50 s
    record = engine.records[X]
    assert (record.started_at - T0, record.last_seen - T0) == (50_000_000, 50_000_000)


def test_a_late_started_from_the_bridge_counts_its_real_age() -> None:
    engine = Engine(POLICY)
    feed(engine, [tick(600), lifecycle("started", X, 0)])  # the bridge reports a row that began 10 minutes ago
    outputs = feed(engine, beating(605, 3595))
    assert kinds(outputs) == []
    outputs = feed(engine, beating(3600, 3610))
    assert kinds(outputs) == ["terminate"]  # at 60 minutes of its real runtime, not 70


def test_a_tick_a_day_ahead_kills_nothing_and_detection_is_normal_once_the_clock_is_right() -> None:
    engine = Engine(POLICY)
    outputs = feed(engine, [lifecycle("started", X, 0), *beating(5, 600)])
    outputs += feed(engine, [tick(605 + DAY)])  # the host's clock jumps a day ahead
    outputs += feed(engine, beating(610, 1200, ticks_ahead=DAY))  # and stays there a while
    outputs += feed(engine, beating(1205, 1800))  # then it is put right
    assert kinds(outputs) == [] and moves(outputs) == [] and not [o for o in outputs if isinstance(o, RecoveryEvent)]
    outputs = feed(engine, [tick(t) for t in range(1805, 1800 + 120, 5)])  # the execution dies
    assert moves(outputs) == [("running", "suspected")]
    [suspected] = [o for o in outputs if isinstance(o, Transition)]
    assert suspected.at.timestamp() - tick(1800).now.timestamp() <= 95  # within one heartbeat timeout


def test_after_a_far_future_tick_the_clock_comes_back_and_a_later_death_is_detected() -> None:
    engine = Engine(POLICY)
    feed(engine, [lifecycle("started", X, 0), *beating(5, 100), tick(100 + YEAR), *beating(105, 300)])
    outputs = feed(engine, [tick(t) for t in range(305, 500, 5)])
    assert moves(outputs) == [("running", "suspected")]


def test_a_broker_outage_is_no_silence_and_the_buffered_heartbeats_arrive_after_the_first_tick() -> None:
    engine = Engine(Policy(**{**BASE, "heartbeat_timeout_s": 20}, auto_terminate=True))
    outputs = feed(engine, [lifecycle("started", X, 0), *beating(5, 300)])
    outputs += feed(engine, [tick(360)])  # no tick could be written for a minute
    outputs += feed(engine, [lifecycle("heartbeat", X, t, event_id=f"late-{t}") for t in range(305, 365, 5)])
    outputs += feed(engine, beating(365, 600))
    assert moves(outputs) == [] and kinds(outputs) == []


def test_results_from_a_skewed_runner_clock_count_at_the_watchdogs_time() -> None:
    engine = Engine(POLICY)
    feed(engine, [lifecycle("started", X, 0), *[tick(t) for t in range(5, 100, 5)]])
    outputs = feed(engine, [probe(X, 95 + YEAR, "not_found")])  # not believed: counted at the clock
    [mark] = [o for o in outputs if isinstance(o, Command)]
    assert mark.at.timestamp() == tick(95).now.timestamp()
    outputs = feed(engine, [result(mark.command_id, 96, "ok")])
    [recovered] = [o for o in outputs if isinstance(o, RecoveryEvent)]
    assert recovered.decided_at.timestamp() == tick(96).now.timestamp()  # a believed time stays as it is


jumps = st.lists(st.sampled_from([0, 0, 0, 7, -7, 40, -40, 3600, -3600, DAY, -DAY, YEAR]), min_size=1, max_size=40)


@settings(max_examples=examples(200), deadline=None)
@given(jumps)
def test_whatever_the_tickers_clock_does_a_beating_execution_is_never_suspected_or_killed(offsets: list[int]) -> None:
    """The source's clock is right; the ticker's jumps by the drawn offsets, one after another."""
    engine = Engine(Policy(**{**BASE, "default_timeout_s": 300 * DAY}, auto_terminate=True))
    outputs = feed(engine, [lifecycle("started", X, 0), tick(0)])
    ahead = 0
    for n, jump in enumerate(offsets, start=1):
        ahead += jump
        t = 5 * n
        outputs += feed(engine, [lifecycle("heartbeat", X, t, event_id=f"hb-{n}"), tick(t + ahead)])
    assert moves(outputs) == [] and kinds(outputs) == []
