"""The upstream SSE reader under random chunk splits, line endings, comments and truncation."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from godex.upstream.decode import decode_payload
from godex.upstream.sse import SSEReader

payloads = st.lists(
    st.dictionaries(st.sampled_from(["a", "b", "text"]), st.text(max_size=10), max_size=3),
    min_size=0,
    max_size=8,
)


def _frame(objs: list[dict[str, str]], eol: str, comments: bool) -> bytes:
    out = ""
    for obj in objs:
        if comments:
            out += f": keep-alive{eol}{eol}"
        out += f"data: {json.dumps(obj)}{eol}{eol}"
    out += f"data: [DONE]{eol}{eol}"
    return out.encode()


def _feed(raw: bytes, cuts: list[int]) -> tuple[list[bytes], SSEReader]:
    reader = SSEReader()
    got: list[bytes] = []
    prev = 0
    for c in [*sorted({c % (len(raw) + 1) for c in cuts}), len(raw)]:
        got += reader.feed(raw[prev:c])
        prev = c
    got += reader.close()
    return got, reader


@settings(max_examples=300, deadline=None)
@given(
    payloads, st.sampled_from(["\n", "\r\n", "\r"]), st.booleans(), st.lists(st.integers(0, 10_000))
)
def test_any_split_gives_the_same_events(
    objs: list[dict[str, str]], eol: str, comments: bool, cuts: list[int]
) -> None:
    raw = _frame(objs, eol, comments)
    got, reader = _feed(raw, cuts)
    assert [json.loads(g) for g in got] == objs
    assert reader.done


@settings(max_examples=200, deadline=None)
@given(payloads, st.integers(0, 10_000), st.lists(st.integers(0, 10_000)))
def test_truncation_never_invents_events(
    objs: list[dict[str, str]], cut: int, cuts: list[int]
) -> None:
    raw = _frame(objs, "\n", False)
    truncated = raw[: cut % (len(raw) + 1)]
    got, _ = _feed(truncated, cuts)
    decoded = [o for g in got for o in decode_payload(g)]
    # Every complete event is kept in order; at most a final partial one is dropped.
    assert decoded == objs[: len(decoded)]
    complete = min(truncated.count(b"\n\n"), len(objs))
    assert len(decoded) in (complete, complete + 1)


@settings(max_examples=100, deadline=None)
@given(payloads)
def test_duplicated_frames_are_delivered_twice_not_merged(objs: list[dict[str, str]]) -> None:
    raw = b"".join(f"data: {json.dumps(o)}\n\n".encode() * 2 for o in objs)
    got, _ = _feed(raw, [])
    assert [json.loads(g) for g in got] == [o for o in objs for _ in (0, 1)]


def test_glued_glm_frame_recovers_the_tail() -> None:
    glued = b'{"id":"1","object":"chat.cdata: {"id":"2","choices":[]}'
    assert decode_payload(glued) == [{"id": "2", "choices": []}]


def test_concatenated_objects_and_junk() -> None:
    assert decode_payload(b'{"a":1}{"b":"}{"}') == [{"a": 1}, {"b": "}{"}]
    assert decode_payload(b"not json") == []


def test_multiline_data_joined() -> None:
    reader = SSEReader()
    assert reader.feed(b'data: {"a":\ndata: 1}\n\n') == [b'{"a":\n1}']


def test_text_mentioning_data_colon_is_not_split() -> None:
    payload = b'{"choices":[{"delta":{"content":"see data: {\\"a\\": 1}"}}]}'
    assert decode_payload(payload) == [{"choices": [{"delta": {"content": 'see data: {"a": 1}'}}]}]
