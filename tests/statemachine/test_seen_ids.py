"""A repeated event id changes nothing, whatever it carries (contract §2)."""

from __future__ import annotations

import zlib

from hypothesis import given, settings
from hypothesis import strategies as st

from exec_watchdog.adapters.snapshots import decode, encode
from schemas import Command, State, Transition
from statemachine import Engine, Policy
from statemachine.seen_ids import admit
from tests.events import lifecycle, tick
from tests.examples import examples

X = "exec-1"
POLICY = Policy(auto_terminate=True, idle_after_s=10**6, default_timeout_s=10**6)


def test_a_replayed_start_with_a_shorter_limit_is_a_duplicate_even_after_many_heartbeats() -> None:
    engine = Engine(POLICY)
    engine.apply(tick(0))
    engine.apply(lifecycle("started", X, 0, event_id="start-1", timeout_seconds=3600))
    outputs = []
    for second in range(5, 1200, 5):
        if second % 30 == 0:
            outputs += engine.apply(lifecycle("heartbeat", X, second))
        if second == 600:
            outputs += engine.apply(lifecycle("started", X, 600, event_id="start-1", timeout_seconds=60))
        outputs += engine.apply(tick(second))
    assert outputs == []
    assert engine.records[X].own_timeout_us == 3600 * 1_000_000


def test_a_replayed_heartbeat_with_a_later_time_keeps_nothing_alive() -> None:
    engine = Engine(POLICY)
    engine.apply(tick(0))
    engine.apply(lifecycle("started", X, 0))
    outputs = []
    for second in range(5, 200, 5):
        if second in (30, 60, 90, 115):  # one heartbeat, then its id again, stamped later each time
            outputs += engine.apply(lifecycle("heartbeat", X, second, event_id="beat-1"))
        outputs += engine.apply(tick(second))
    suspected = [o for o in outputs if isinstance(o, Transition) and o.to_state is State.SUSPECTED]
    assert [round(o.at.timestamp() - tick(0).now.timestamp()) for o in suspected] == [120]
    assert next(o.at for o in outputs if isinstance(o, Command)) == suspected[0].at


def test_the_window_of_seen_ids_survives_a_snapshot() -> None:
    engine = Engine(POLICY)
    engine.apply(tick(0))
    engine.apply(lifecycle("started", X, 0, event_id="start-1", timeout_seconds=3600))
    restored = decode(encode(engine), POLICY)
    restored.apply(lifecycle("started", X, 10, event_id="start-1", timeout_seconds=60))
    assert restored.records[X].own_timeout_us == 3600 * 1_000_000


def test_a_new_event_id_is_still_applied() -> None:
    engine = Engine(POLICY)
    engine.apply(tick(0))
    engine.apply(lifecycle("started", X, 0, event_id="start-1", timeout_seconds=3600))
    engine.apply(lifecycle("started", X, 5, event_id="start-2", timeout_seconds=60))
    assert engine.records[X].own_timeout_us == 60 * 1_000_000


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=40, unique=True), st.text(min_size=1))
def test_the_last_seven_ids_and_the_latest_start_are_remembered(ids: list[str], start: str) -> None:
    window = admit(b"", start, started=True)
    assert window is not None
    for event_id in ids:
        window = admit(window, event_id) or window
    slotted = [i for i in ids if i != start]  # the start's id again is a repeat: it takes no slot
    for event_id in [*slotted[-7:], start]:
        assert admit(window, event_id) is None
    assert len(window) <= 32
    forgotten = slotted[:-7]
    assert sum(admit(window, i) is None for i in forgotten) <= len(forgotten) // 1000  # collisions only


def test_the_windows_bytes_are_the_snapshot_format_crc32_little_endian_start_slot_first() -> None:
    window = admit(admit(b"", "start-1", started=True) or b"", "beat-1")
    assert window == zlib.crc32(b"start-1").to_bytes(4, "little") + zlib.crc32(b"beat-1").to_bytes(4, "little")
    assert admit(b"", "beat-1") == bytes(4) + zlib.crc32(b"beat-1").to_bytes(4, "little")  # no start yet
