"""Server-sent events as an agent sends them, however the bytes are cut, and never more memory than a line's bound."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from exec_watchdog.adapters.sse import Comment, Data, SseParser

TRINITY = b'data: {"type": "assistant"}\n\n: keepalive\n\ndata: {"type": "stream_end"}\n\n'


def test_trinitys_entries_keepalives_and_end() -> None:
    assert SseParser().feed(TRINITY) == [
        Data('{"type": "assistant"}'),
        Comment("keepalive"),
        Data('{"type": "stream_end"}'),
    ]


def test_lines_may_end_with_crlf_or_cr_and_data_lines_gather_into_one_event() -> None:
    body = b"data: one\r\ndata:two\r\rid: 7\nevent: x\n\n"
    assert SseParser().feed(body) == [Data("one\ntwo")]


def test_an_event_is_dispatched_only_by_its_blank_line() -> None:
    parser = SseParser()
    assert parser.feed(b"data: half") == []
    assert parser.feed(b" done\n") == []
    assert parser.feed(b"\n") == [Data("half done")]


@given(st.lists(st.integers(min_value=0, max_value=len(TRINITY)), max_size=8))
def test_any_cut_of_the_bytes_gives_the_same_events(cuts: list[int]) -> None:
    parser, events, start = SseParser(), [], 0
    for cut in [*sorted(cuts), len(TRINITY)]:
        events += parser.feed(TRINITY[start:cut])
        start = cut
    assert events == SseParser().feed(TRINITY)


def test_a_line_longer_than_the_bound_is_cut_but_still_an_event() -> None:
    parser = SseParser(max_line=16)
    events = []
    for _ in range(1000):  # 1 MB of one line, fed in pieces
        events += parser.feed(b"x" * 1024)
    events += parser.feed(b"\n\ndata: next\n\n")
    assert events == [Data("next")]  # the long line had no field name `data`: ignored
    parser = SseParser(max_line=16)
    assert parser.feed(b"data: " + b"y" * 10_000 + b"\n\n") == [Data("y" * 10)]
    assert len(parser._line) == 0
