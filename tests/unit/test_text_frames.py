"""Plain text chunks read by their frame give exactly what decoding each one gives.

The same SSE bytes, split into the same reads, are read twice: by an upstream stream that
learns the text frame, and by one with frames off; every read's deltas must be equal. Texts
cover quotes, backslashes, control characters and non-ASCII (escaped and raw); frames vary
(spacing, a role, another id mid-stream), and other chunks (roles, reasoning, tool calls,
finish, usage) fall anywhere.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from godex.gateway.upstream_stream import UpstreamStream
from godex.protocol.deltas import Delta, TextDelta
from godex.providers.registry import get_spec
from godex.upstream.text_frames import TextFrames


class _Reads:
    def __init__(self, reads: list[bytes]) -> None:
        self._reads = reads

    async def _gen(self) -> AsyncIterator[bytes | None]:
        for r in self._reads:
            yield r

    def chunks(self, tick_s: float) -> AsyncIterator[bytes | None]:
        return self._gen()

    def release(self) -> None:
        pass


def _route(spec_name: str) -> Any:
    spec = get_spec(spec_name)
    timeouts = SimpleNamespace(idle_ms=60_000, total_ms=600_000)
    return SimpleNamespace(spec=spec, provider=SimpleNamespace(name="p", timeouts=timeouts))


def _chunk(delta: dict[str, Any], *, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {"id": "c1", "object": "chat.completion.chunk", "created": 7}
    obj["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish}]
    obj.update(extra)
    return obj


texts = st.text(
    alphabet=st.sampled_from(["a", " ", '"', "\\", "\n", "\t", "\x01", "é", "中", "😀", "}", ","]),
    max_size=6,
)
chunks = st.one_of(
    st.tuples(
        st.just("text"), texts, st.sampled_from(["spaced", "compact", "ascii", "role", "id2"])
    ),
    st.tuples(st.just("role"), st.just(""), st.just("")),
    st.tuples(st.just("reasoning"), texts, st.just("")),
    st.tuples(st.just("tool"), texts, st.just("")),
    st.tuples(st.just("finish"), st.just(""), st.just("")),
)


def _payload(kind: str, text: str, variant: str) -> bytes:
    if kind == "text":
        if variant == "role":
            obj = _chunk({"role": "assistant", "content": text})
        elif variant == "id2":
            obj = _chunk({"content": text}, id="c2")
        else:
            obj = _chunk({"content": text})
        if variant == "compact":
            return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
        return json.dumps(obj, ensure_ascii=variant == "ascii").encode()
    if kind == "role":
        obj = _chunk({"role": "assistant", "content": ""})
    elif kind == "reasoning":
        obj = _chunk({"reasoning_content": text})
    elif kind == "tool":
        call = {"index": 0, "id": "t", "type": "function"}
        call["function"] = {"name": "f", "arguments": text}
        obj = _chunk({"tool_calls": [call]})
    else:
        usage = {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
        obj = _chunk({}, finish="stop", usage=usage)
    return json.dumps(obj, ensure_ascii=False).encode()


def _read_all(spec_name: str, reads: list[bytes], frames: bool) -> list[list[Delta]]:
    async def run() -> list[list[Delta]]:
        stream = UpstreamStream(_route(spec_name), _Reads(reads), 1.0, None)
        if not frames:
            stream._frames = None
        out: list[list[Delta]] = []
        while (got := await stream.read()) is not None:
            out.append(got)
        return out

    return asyncio.run(run())


@settings(max_examples=300, deadline=None)
@given(
    st.lists(chunks, max_size=40),
    st.lists(st.integers(min_value=0, max_value=10_000), max_size=6),
    st.sampled_from(["deepseek", "minimax", "kimi"]),
)
def test_frames_read_exactly_what_decoding_reads(
    items: list[tuple[str, str, str]], cuts: list[int], spec_name: str
) -> None:
    raw = b"".join(b"data: " + _payload(*it) + b"\n\n" for it in items) + b"data: [DONE]\n\n"
    points = sorted({c % (len(raw) + 1) for c in cuts})
    reads = [raw[a:b] for a, b in zip([0, *points], [*points, len(raw)], strict=True)]
    assert _read_all(spec_name, reads, True) == _read_all(spec_name, reads, False)


def test_a_burst_of_text_chunks_is_read_by_its_frame() -> None:
    body = [_chunk({"role": "assistant", "content": ""})]
    body += [_chunk({"content": f'tok "{i}"\\ '}) for i in range(30)]
    usage = {"prompt_tokens": 3, "completion_tokens": 30, "total_tokens": 33}
    body.append(_chunk({}, finish="stop", usage=usage))
    lines = [b"data: " + json.dumps(o).encode() + b"\n\n" for o in body]
    # The frame is learned in the first read; the second is a role-less run plus the finish.
    reads = [b"".join(lines[:3]), b"".join(lines[3:]) + b"data: [DONE]\n\n"]

    async def run() -> tuple[list[list[Delta]], bool]:
        stream = UpstreamStream(_route("deepseek"), _Reads(reads), 1.0, None)
        out = [await stream.read(), await stream.read()]
        assert stream._frames is not None
        return [o for o in out if o is not None], stream._frames.known

    out, known = asyncio.run(run())
    assert known
    assert out[1][0] == TextDelta("".join(f'tok "{i}"\\ ' for i in range(2, 30)))


def test_a_frame_is_not_learned_where_the_text_is_ambiguous() -> None:
    frames = TextFrames()
    obj = _chunk({"content": "c1"})  # the id is "c1" too
    frames.learn(json.dumps(obj).encode(), obj, "c1")
    assert not frames.known
    obj = _chunk({"content": "x"})
    frames.learn(json.dumps(obj).encode(), obj, "x")
    assert frames.known
    head = json.dumps(_chunk({"content": "x"})).encode().split(b'"x"')[0]
    # A chunk whose text ends in a backslash, or that is another shape, is not taken.
    assert frames.texts([head + b'"a\\\\"}, "finish_reason": null}]}']) is None
    assert frames.texts([json.dumps(_chunk({"content": "y"}, id="z")).encode()]) is None
    assert frames.texts([json.dumps(_chunk({"content": 'q"'})).encode()]) == ['q"']
