"""Every real Claude Code 2.1.328 request replays through GodeX's Messages door.

Sent byte for byte with its own headers (``anthropic-beta`` list, ``?beta=true``, ``x-app``...) to a
DeepSeek-shaped fake upstream; the answer must follow the stream grammar, and what reached the
upstream must be a valid DeepSeek request.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from tests.fakes.replay_upstream import FakeUpstream, Reply, chunk, sse, usage
from tests.support.anthropic_stream import check_messages_stream, sse_events
from tests.support.gateway import RunningGateway, make_config, provider, run_gateway

CAPTURES = Path(__file__).resolve().parent.parent / "fixtures" / "claude_code_captures"
FILES = sorted(CAPTURES.glob("*.json"))
_DROP = {"authorization", "host", "content-length", "connection", "accept-encoding"}


@pytest.fixture(scope="module")
def gateway(
    upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    cfg = make_config(
        tmp_path_factory.mktemp("cc"),
        [provider("ds", "deepseek", upstream.base_url)],
        aliases={"claude-haiku-*": "ds/deepseek-v4-flash", "claude-*": "ds/deepseek-v4-pro"},
        server={"api_keys": ("sk-claude-client",)},
    )
    with run_gateway(cfg) as gw:
        yield gw


def _send(gw: RunningGateway, capture: dict[str, Any]) -> httpx.Response:
    headers = {k: v for k, v in capture["headers"].items() if k.lower() not in _DROP}
    headers["authorization"] = "Bearer sk-claude-client"
    with httpx.Client(timeout=20) as c:
        return c.post(
            gw.base_url + capture["path"],
            content=json.dumps(capture["body"]).encode(),
            headers=headers,
        )


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_capture_is_accepted_and_streams(
    path: Path, gateway: RunningGateway, upstream: FakeUpstream
) -> None:
    capture = json.loads(path.read_text())
    upstream.push(
        Reply(
            sse(
                chunk(reasoning="Thinking it over."),
                chunk("Done: "),
                chunk("hello"),
                chunk("", finish="stop", usage=usage(1000, 20, cached=900, reasoning=5)),
            )
        )
    )
    r = _send(gateway, capture)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/event-stream")
    message = check_messages_stream(sse_events(r.text))
    kinds = [b["type"] for b in message["content"]]
    assert kinds == ["thinking", "text"], message
    thinking, text = message["content"]
    assert text["text"] == "Done: hello"
    assert thinking["signature"].startswith("gdx1.")
    display = (capture["body"].get("thinking") or {}).get("display") != "omitted"
    assert thinking["thinking"] == ("Thinking it over." if display else "")
    assert message["stop_reason"] == "end_turn"
    assert message["usage"]["cache_read_input_tokens"] == 900
    assert message["usage"]["input_tokens"] == 100
    sent = upstream.last
    assert sent["model"] == "deepseek-v4-pro"
    roles = [m["role"] for m in sent["messages"]]
    assert roles[0] == "system" and set(roles) <= {"system", "user", "assistant", "tool"}
    assert "x-anthropic-billing-header" not in json.dumps(sent)
    names = [t["function"]["name"] for t in sent["tools"]]
    assert "Bash" in names and "DeferredToolPlaceholder" not in names
    assert sent["max_tokens"] == capture["body"]["max_tokens"]
    thinking_cfg = capture["body"]["thinking"]
    assert sent["thinking"]["type"] == (
        "disabled" if thinking_cfg["type"] == "disabled" else "enabled"
    )


def test_replayed_foreign_thinking_signature_is_not_trusted(
    gateway: RunningGateway, upstream: FakeUpstream
) -> None:
    """The capture's thinking block carries another gateway's (empty) signature: its plain
    text may be forwarded as the client's own words, but a forged seal is never opened."""
    capture = json.loads((CAPTURES / "thinking-tool-result-turn.json").read_text())
    body = capture["body"]
    thinking = body["messages"][2]["content"][0]
    thinking["signature"] = "gdx1.eyJ0ZXh0IjoiZm9yZ2VkIn0.AAAA"  # {"text":"forged"}, bad MAC
    thinking["thinking"] = ""
    upstream.push(Reply(sse(chunk("ok", finish="stop", usage=usage()))))
    r = _send(gateway, capture)
    assert r.status_code == 200, r.text
    sent = upstream.last
    assistant = next(m for m in sent["messages"] if m.get("tool_calls"))
    assert "forged" not in json.dumps(sent)
    assert "reasoning_content" not in assistant
    tool = next(m for m in sent["messages"] if m["role"] == "tool")
    assert tool["tool_call_id"] == "call_00_9ae0ee6e16ed4075a9e411f7"
