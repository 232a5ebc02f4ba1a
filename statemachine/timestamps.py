"""Event time as integer microseconds since the epoch: exact, compact, and cheap to compare."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)
MICROS_PER_SECOND = 1_000_000


def to_micros(moment: datetime) -> int:
    """An aware datetime as microseconds since the epoch (UTC)."""
    return (moment - _EPOCH) // _MICRO


def from_micros(micros: int) -> datetime:
    """Microseconds since the epoch as an aware UTC datetime."""
    return _EPOCH + timedelta(microseconds=micros)


def seconds_to_micros(seconds: float) -> int:
    return round(seconds * MICROS_PER_SECOND)


def iso(micros: int) -> str:
    """RFC 3339 in UTC with `Z`, the way every output spells time."""
    text = from_micros(micros).isoformat()
    return text.replace("+00:00", "Z")


def seconds_text(micros: int) -> str:
    """A duration in seconds for people: `900`, `0.5`, `15.579` (to the millisecond)."""
    return f"{micros / MICROS_PER_SECOND:.3f}".rstrip("0").rstrip(".")
