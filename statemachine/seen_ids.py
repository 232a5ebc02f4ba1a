"""The event ids an execution has seen lately: a bounded window packed into one integer.

A repeated `event_id` changes nothing (contract §2), even with other content. Each record keeps the
32-bit fingerprints (CRC-32) of its last seven events in seven lanes of one int, and in an eighth lane
the fingerprint of its latest `execution.started`, so a replayed start (say with a shorter
`timeout_seconds`) stays a duplicate however many heartbeats came since. One int costs ~60 bytes a
record, is snapshotted with it, and is checked with a few integer operations on the heartbeat path.

Fingerprints can collide: a fresh event then counts as a repeat with odds of 8 in 2**32. Nothing is
lost that matters: a dropped heartbeat is one of many, and a dropped end leaves an execution that
goes silent and is probed like any other.
"""

from __future__ import annotations

import zlib

_BITS = 32
_LANES = 8
_RING = (1 << (_BITS * (_LANES - 1))) - 1
"""The seven lanes of recent ids (the low ones); the top lane holds the latest start's."""
_PIN = _BITS * (_LANES - 1)
_LOW = sum(1 << (_BITS * lane) for lane in range(_LANES))
_HIGH = _LOW << (_BITS - 1)


def fingerprint(event_id: str) -> int:
    """Never 0: an empty lane is 0."""
    return zlib.crc32(event_id.encode()) or 1


def already_seen(window: int, print_: int) -> bool:
    """Whether any lane holds `print_`: the lanes equal to it are those XOR makes zero, and a zero
    lane is found with the borrow trick (exact for "is any lane zero")."""
    v = window ^ (print_ * _LOW)
    return ((v - _LOW) & ~v & _HIGH) != 0


def remember(window: int, print_: int, *, started: bool = False) -> int:
    if started:
        return (window & _RING) | (print_ << _PIN)
    return ((window << _BITS) & _RING) | print_ | (window & ~_RING)
