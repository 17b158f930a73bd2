"""Every real Codex 0.169 request replays through GodeX and yields a stream the SDK accepts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.fakes.replay_upstream import FakeUpstream, Reply, chunk, sse, usage

CAPTURES = Path(__file__).resolve().parent.parent / "fixtures" / "codex_captures"
REQUESTS = sorted(
    p for p in CAPTURES.glob("*_request.json") if json.loads(p.read_text()).get("body")
)


def _stream(client: openai.OpenAI, body: dict[str, Any]) -> Any:
    body = dict(body)
    model = body.pop("model")
    items = body.pop("input")
    body.pop("stream", None)
    with client.responses.stream(model=model, input=items, extra_body=body) as stream:
        return stream.get_final_response()


@pytest.mark.parametrize("capture", REQUESTS, ids=lambda p: p.name.split("_request")[0])
def test_capture_streams(capture: Path, client: openai.OpenAI, upstream: FakeUpstream) -> None:
    body = json.loads(capture.read_text())["body"]
    structured = (body.get("text") or {}).get("format", {}).get("type") == "json_schema"
    # --output-schema captures must get an answer that fits their schema.
    answer = ['{"answer": ', '"hello"}'] if structured else ["All done: ", "hello"]
    upstream.push(
        Reply(
            sse(
                chunk(reasoning="Thinking about it."),
                chunk(answer[0]),
                chunk(answer[1]),
                chunk("", finish="stop", usage=usage(1000, 20, cached=900, reasoning=5)),
            )
        )
    )
    final = _stream(client, body)
    assert final.status == "completed"
    assert final.output_text == "".join(answer)
    reasoning = [i for i in final.output if i.type == "reasoning"]
    assert reasoning and reasoning[0].summary is not None
    if "reasoning.encrypted_content" in body.get("include", []):
        assert reasoning[0].encrypted_content
    assert final.usage is not None and final.usage.input_tokens_details.cached_tokens == 900
    sent = upstream.last
    roles = [m["role"] for m in sent["messages"]]
    assert "developer" not in roles  # DeepSeek has no developer role
    names = [t["function"]["name"] for t in sent.get("tools", [])]
    assert len(names) == len(set(names))


def test_capture_tool_call_stream(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    """The apply_patch custom tool round trip of a gpt-5.5 capture."""
    body = json.loads((CAPTURES / "03_gpt55_turn1_request.json").read_text())["body"]
    patch = '*** Begin Patch\n*** Add File: hello.txt\n+hi "there"\n*** End Patch\n'
    upstream.push(
        Reply(
            sse(
                chunk(
                    tool_calls=[
                        {
                            "index": 0,
                            "id": "call_p",
                            "type": "function",
                            "function": {"name": "apply_patch", "arguments": ""},
                        }
                    ]
                ),
                chunk(
                    tool_calls=[
                        {"index": 0, "function": {"arguments": json.dumps({"input": patch})[:20]}}
                    ]
                ),
                chunk(
                    tool_calls=[
                        {"index": 0, "function": {"arguments": json.dumps({"input": patch})[20:]}}
                    ]
                ),
                chunk(finish="tool_calls", usage=usage()),
            )
        )
    )
    final = _stream(client, body)
    (item,) = final.output
    assert item.type == "custom_tool_call"
    assert item.name == "apply_patch"
    assert item.input == patch
