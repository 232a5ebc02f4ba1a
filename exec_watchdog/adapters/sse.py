"""Server-sent events, read incrementally and within bounds (the part of the format agents use).

Lines end with LF, CRLF or CR; a line starting with `:` is a comment (Trinity's `: keepalive`);
`data:` lines gather into one event, dispatched by a blank line; other fields are ignored. An agent
is not trusted to keep lines short: a line's text beyond `max_line` is dropped as it arrives (the
event still counts), so memory stays bounded whatever the agent sends.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_LINE = 64 * 1024


@dataclass(frozen=True, slots=True)
class Comment:
    text: str


@dataclass(frozen=True, slots=True)
class Data:
    text: str
    """The event's data, cut to the parser's `max_line` characters per line."""


SseEvent = Comment | Data


class SseParser:
    def __init__(self, max_line: int = MAX_LINE) -> None:
        self._max_line = max_line
        self._line = bytearray()
        self._after_cr = False
        self._data: list[str] | None = None

    def feed(self, chunk: bytes) -> list[SseEvent]:
        """The events completed by `chunk`, in order."""
        events: list[SseEvent] = []
        start = 0
        for index, byte in enumerate(chunk):
            if byte not in (0x0A, 0x0D):
                continue
            self._keep(chunk[start:index])
            start = index + 1
            if byte == 0x0A and self._after_cr:  # the LF of a CRLF: its line has ended already
                self._after_cr = False
                continue
            self._after_cr = byte == 0x0D
            self._end_line(events)
        if start < len(chunk):
            self._after_cr = False
            self._keep(chunk[start:])
        return events

    def _keep(self, part: bytes) -> None:
        room = self._max_line - len(self._line)
        if room > 0:
            self._line += part[:room]

    def _end_line(self, events: list[SseEvent]) -> None:
        line = self._line.decode("utf-8", errors="replace")
        self._line = bytearray()
        if not line:
            if self._data is not None:
                events.append(Data("\n".join(self._data)))
                self._data = None
            return
        if line.startswith(":"):
            events.append(Comment(line[1:].strip()))
            return
        name, _, value = line.partition(":")
        if name == "data":
            self._data = [*(self._data or []), value.removeprefix(" ")]
