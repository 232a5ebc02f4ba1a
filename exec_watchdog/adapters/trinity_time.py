"""Trinity's time text: read leniently, written exactly as Trinity writes it.

Trinity writes `%Y-%m-%dT%H:%M:%S.%fZ` (always six fractional digits, `Z`: `utils/helpers.utc_now_iso`)
and compares these strings as text for its cut-offs, so everything written to its database or event
stream has exactly that shape.
"""

from __future__ import annotations

from datetime import UTC, datetime


def trinity_time(moment: datetime) -> str:
    """`moment` as Trinity writes times; a naive `moment` is taken as UTC."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str | None) -> datetime | None:
    """Trinity stores ISO 8601 text; a value without an offset is UTC; anything else is no time."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
