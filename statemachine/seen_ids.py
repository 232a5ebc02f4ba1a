"""The event ids an execution has seen lately: a bounded window of fingerprints, 32 bytes a record.

A repeated `event_id` changes nothing (contract §2), even with other content. Each record keeps the
4-byte fingerprints (CRC-32) of its last seven event ids, and in a slot of its own the fingerprint
of its latest `execution.started`, so a replayed start (say with a shorter `timeout_seconds`) stays
a duplicate however many heartbeats came since. The window is snapshotted with the record and
checked with one substring search on the heartbeat path.

Fingerprints can collide (odds of about 7 in 10**9 per event, counting a match across two slots):
a fresh event then counts as a repeat. Nothing is lost that matters: a dropped heartbeat is one of
many, and a dropped end leaves an execution that goes silent and is probed like any other.
"""

from __future__ import annotations

from zlib import crc32

_WIDTH = 4
_NO_START = bytes(_WIDTH)
_WINDOW = 8 * _WIDTH
"""The latest start's slot, then seven slots of recent ids, newest first."""


def admit(window: bytes, event_id: str, *, started: bool = False) -> bytes | None:
    """The window with `event_id` remembered, or None when it holds the id already (a repeat)."""
    print_ = (crc32(event_id.encode()) or 1).to_bytes(_WIDTH, "little")
    if print_ in window:
        return None
    if started:
        return print_ + window[_WIDTH:]
    return (window[:_WIDTH] or _NO_START) + print_ + window[_WIDTH : _WINDOW - _WIDTH]
