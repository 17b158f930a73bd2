"""The upstream SSE reader under random chunk splits, line endings, comments and truncation."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from godex.upstream.decode import decode_payload, decode_plain_payloads
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


_payload = st.one_of(
    st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=8), max_size=3).map(
        lambda d: json.dumps(d).encode()
    ),
    st.sampled_from(
        [b'{"a":1}{"b":2}', b'{"a":1},{"b":2}', b"[1", b"2]", b"{}", b'{"s":"x}', b"1,2", b"{"]
    ),
    st.binary(max_size=12),
)


@given(st.lists(_payload, max_size=8))
def test_one_call_for_a_read_of_plain_objects_or_the_per_payload_answer(
    payloads: list[bytes],
) -> None:
    joined = decode_plain_payloads(payloads)
    if joined is None:
        return
    one_by_one = [o for p in payloads for o in decode_payload(p, strict=True)]
    assert joined == one_by_one


def test_a_read_of_fifty_chunks_is_decoded_in_one_call() -> None:
    payloads = [b'{"choices":[{"delta":{"content":"tok "}}]}'] * 50
    assert decode_plain_payloads(payloads) == [json.loads(p) for p in payloads]
    assert decode_plain_payloads([*payloads, b'{"a":1}{"b":2}']) is None
