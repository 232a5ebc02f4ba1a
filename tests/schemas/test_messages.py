"""What a rejected record is told (the DLQ's `error`), how older versions climb, and the `through` header."""

from __future__ import annotations

import json
from typing import Any, Literal

import pytest
from pydantic import BaseModel, TypeAdapter

from schemas.fields import EARLIEST_YEAR, LATEST_YEAR
from schemas.log_records import THROUGH_HEADER, LogRecord, through_of
from schemas.parsing import MAX_RECORD_BYTES, InputParser, InvalidInput, parse_input

TICK = {"schema_version": 1, "type": "watchdog.tick", "now": "2026-11-28T21:00:00Z"}


@pytest.mark.parametrize(
    ("data", "said"),
    [
        ("{not json", "record: Invalid JSON: key must be a string at line 1 column 2"),
        ("[1]", "record: Input should be an object"),
        ('{"schema_version": 1}', "type: Unable to extract tag using discriminator 'type'"),
        ('{"schema_version": 1, "type": "watchdog.nothing"}', "type: Input tag 'watchdog.nothing' found using"),
        (json.dumps({**TICK, "now": "yesterday"}), "now: Value error, must be an RFC 3339 timestamp"),
        (json.dumps({**TICK, "schema_version": 99}), "schema_version: 99 is not supported; this build reads"),
        (
            json.dumps({**TICK, "type": "execution.heartbeat", "event_id": "e", "execution_id": "a/b"}),
            "execution_id: String should match pattern",
        ),
    ],
)
def test_a_rejected_record_is_told_which_field_and_why(data: str, said: str) -> None:
    with pytest.raises(InvalidInput) as rejected:
        parse_input(data)
    assert str(rejected.value).startswith(said)


def test_every_bad_field_is_named_once_in_one_line() -> None:
    bad = {**TICK, "type": "execution.started", "event_id": "e", "execution_id": "a/b", "agent_name": "X"}
    bad["occurred_at"] = bad.pop("now")
    with pytest.raises(InvalidInput) as rejected:
        parse_input(json.dumps(bad))
    fields = [part.split(":")[0] for part in str(rejected.value).split("; ")]
    assert fields == ["execution_id", "agent_name"]


class _V3(BaseModel):
    schema_version: Literal[3]
    name: str


def test_a_record_two_versions_old_climbs_one_version_at_a_time() -> None:
    def v1(obj: dict[str, Any]) -> dict[str, Any]:
        return {**obj, "schema_version": 2, "title": obj.pop("label")}

    def v2(obj: dict[str, Any]) -> dict[str, Any]:
        return {**obj, "schema_version": 3, "name": obj.pop("title")}

    parser = InputParser(TypeAdapter(_V3), 3, {1: v1, 2: v2})
    assert parser.parse('{"schema_version": 1, "label": "x"}') == _V3(schema_version=3, name="x")
    assert parser.parse('{"schema_version": 2, "title": "y"}') == _V3(schema_version=3, name="y")
    with pytest.raises(InvalidInput, match="schema_version: 4 is not supported"):
        parser.parse('{"schema_version": 4, "name": "z"}')
    with pytest.raises(InvalidInput, match="schema_version"):
        parser.parse('{"schema_version": true, "name": "z"}')  # a bool is no version


@pytest.mark.parametrize(
    ("headers", "through"),
    [((), 0), (((THROUGH_HEADER, b"42"),), 42), (((THROUGH_HEADER, b"-5"),), 0), (((THROUGH_HEADER, b"x"),), 0)],
)
def test_a_control_record_vouches_for_its_through_offset_and_never_below_zero(
    headers: tuple[tuple[str, bytes], ...], through: int
) -> None:
    assert through_of(LogRecord(0, None, b"{}", headers)) == through


def test_attributes_may_take_exactly_eight_kibibytes_serialized_and_not_a_byte_more() -> None:
    event = {**TICK, "type": "execution.heartbeat", "event_id": "e", "execution_id": "x-1", "agent_name": "bot"}
    event["occurred_at"] = event.pop("now")
    parse_input(json.dumps({**event, "attributes": {"k": "x" * 8184}}))  # {"k":"…"}: 8,192 bytes
    with pytest.raises(InvalidInput) as rejected:
        parse_input(json.dumps({**event, "attributes": {"k": "x" * 8185}}))
    assert "attributes: Value error, is 8193 bytes serialized; at most 8192 are allowed" in str(rejected.value)


def test_an_oversized_or_too_deeply_nested_record_is_told_so() -> None:
    with pytest.raises(InvalidInput) as oversized:
        parse_input(b" " * (MAX_RECORD_BYTES + 1))
    assert str(oversized.value) == f"record is {MAX_RECORD_BYTES + 1} bytes; at most {MAX_RECORD_BYTES} are allowed"
    with pytest.raises(InvalidInput) as deep:
        parse_input("[" * 5000 + "]" * 5000)  # within the size limit
    assert str(deep.value) == "record: nested too deeply"


def test_a_record_upcast_and_still_invalid_is_told_what_is_wrong_after_the_upcast() -> None:
    parser = InputParser(TypeAdapter(_V3), 3, {2: lambda obj: {**obj, "schema_version": 3}})
    with pytest.raises(InvalidInput) as rejected:
        parser.parse('{"schema_version": 2, "nom": "x"}')
    assert str(rejected.value) == "name: Field required"


def test_a_timestamp_past_the_last_representable_day_in_utc_is_refused_not_raised() -> None:
    with pytest.raises(InvalidInput) as rejected:
        parse_input(json.dumps({**TICK, "now": "9999-12-31T23:59:59-12:00"}))
    assert (
        str(rejected.value) == f"now: Value error, must lie between the years {EARLIEST_YEAR} and {LATEST_YEAR} (UTC)"
    )


@pytest.mark.parametrize(("year", "taken"), [(EARLIEST_YEAR, True), (EARLIEST_YEAR - 1, False), (LATEST_YEAR, True)])
def test_a_timestamp_must_lie_within_the_plausible_years(year: int, taken: bool) -> None:
    tick = json.dumps({**TICK, "now": f"{year:04d}-06-01T00:00:00Z"})
    if taken:
        parse_input(tick)
        return
    with pytest.raises(InvalidInput) as rejected:
        parse_input(tick)
    assert f"must lie between the years {EARLIEST_YEAR} and {LATEST_YEAR} (UTC)" in str(rejected.value)


def test_a_record_of_exactly_the_size_limit_is_read() -> None:
    tick = json.dumps(TICK)
    assert parse_input(tick + " " * (MAX_RECORD_BYTES - len(tick))).type == "watchdog.tick"


def test_a_parser_names_its_own_version_when_an_upcast_falls_short() -> None:
    parser = InputParser(TypeAdapter(_V3), 3, {1: lambda obj: {**obj, "schema_version": 2}, 2: lambda obj: obj})
    with pytest.raises(InvalidInput) as rejected:
        parser.parse('{"schema_version": 1, "name": "x"}')
    assert str(rejected.value) == "schema_version: 2 is not supported; this build reads schema_version 3"
