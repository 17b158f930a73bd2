"""The bridge through real sockets, with the official openai SDK as the client."""

from __future__ import annotations

import json
from typing import Any

import httpx2 as httpx
import openai
import pytest

from tests.fakes.replay_upstream import (
    FakeUpstream,
    Reply,
    chunk,
    completion_body,
    sse,
    text_stream,
    usage,
)
from tests.support.gateway import RunningGateway
from tests.support.stream_checker import check_stream


def raw_events(http: httpx.Client, body: dict[str, Any]) -> list[dict[str, Any]]:
    with http.stream("POST", "/v1/responses", json=body) as resp:
        assert resp.status_code == 200, resp.read()
        assert resp.headers["content-type"].startswith("text/event-stream")
        data = resp.read().decode()
    events = []
    for block in data.split("\n\n"):
        for line in block.splitlines():
            if line.startswith("data:"):
                events.append(json.loads(line[5:]))
    return events


# -- text ---------------------------------------------------------------------------------


def test_sync_text(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    upstream.push(Reply.json(completion_body("Hello there", prompt=12, completion=3, cached=4)))
    resp = client.responses.create(model="gpt-5.5", input="Say hello", max_output_tokens=64)
    assert resp.status == "completed"
    assert resp.output_text == "Hello there"
    assert resp.usage is not None
    assert resp.usage.input_tokens == 12
    assert resp.usage.output_tokens == 3
    assert resp.usage.total_tokens == 15
    assert resp.usage.input_tokens_details.cached_tokens == 4
    sent = upstream.last
    assert sent["model"] == "deepseek-v4-pro"
    assert sent["stream"] is False
    assert sent["max_tokens"] == 64
    assert sent["messages"] == [{"role": "user", "content": "Say hello"}]


def test_stream_text_accumulator(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    upstream.push(Reply(text_stream("Hello from the stream", pieces=5, prompt=9, completion=4)))
    with client.responses.stream(model="gpt-5.5", input="hi") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == "Hello from the stream"
    assert final.output_text == "Hello from the stream"
    assert final.usage is not None and final.usage.total_tokens == 13
    assert upstream.last["stream"] is True


def test_raw_stream_follows_ordering_rules(http: httpx.Client, upstream: FakeUpstream) -> None:
    upstream.push(
        Reply(
            sse(
                chunk(reasoning="Let me think."),
                chunk(reasoning=" Done."),
                chunk("The answer"),
                chunk(" is 4."),
                chunk("", finish="stop", usage=usage(20, 10, reasoning=6)),
            )
        )
    )
    events = raw_events(
        http,
        {"model": "gpt-5.5", "input": "2+2?", "stream": True, "reasoning": {"summary": "auto"}},
    )
    final = check_stream(events)
    assert [i["type"] for i in final["output"]] == ["reasoning", "message"]
    assert final["output"][0]["summary"][0]["text"] == "Let me think. Done."
    assert final["output"][1]["content"][0]["text"] == "The answer is 4."
    assert final["usage"]["output_tokens_details"]["reasoning_tokens"] == 6


def test_sync_equals_stream(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    upstream.push(Reply.json(completion_body("same", reasoning="why", prompt=5, completion=2)))
    sync = client.responses.create(model="gpt-5.5", input="x")
    upstream.push(
        Reply(
            sse(chunk(reasoning="why"), chunk("same"), chunk("", finish="stop", usage=usage(5, 2)))
        )
    )
    with client.responses.stream(model="gpt-5.5", input="x") as stream:
        streamed = stream.get_final_response()

    def shape(r: Any) -> Any:
        d = r.model_dump()
        for k in ("id", "created_at", "completed_at"):
            d.pop(k, None)
        for item in d["output"]:
            item.pop("id", None)
            for part in item.get("content") or []:
                part.pop("parsed", None)  # the stream helper's ParsedResponse adds it
        return d

    assert shape(sync) == shape(streamed)


# -- tools --------------------------------------------------------------------------------

TOOLS: list[Any] = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
        "strict": False,
    }
]


def test_stream_tool_call_split(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    upstream.push(
        Reply(
            sse(
                chunk(
                    tool_calls=[
                        {
                            "index": 0,
                            "id": "call_abc",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": ""},
                        }
                    ]
                ),
                chunk(tool_calls=[{"index": 0, "function": {"arguments": '{"ci'}}]),
                chunk(tool_calls=[{"index": 0, "function": {"arguments": 'ty": "Paris"}'}}]),
                chunk(finish="tool_calls", usage=usage(30, 8)),
            )
        )
    )
    with client.responses.stream(model="gpt-5.5", input="weather?", tools=TOOLS) as stream:
        final = stream.get_final_response()
    (call,) = final.output
    assert call.type == "function_call"
    assert call.call_id == "call_abc"
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "Paris"}
    sent = upstream.last
    assert sent["tools"][0]["function"]["name"] == "get_weather"


def test_tool_result_turn(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    upstream.push(Reply.json(completion_body("It is sunny.")))
    resp = client.responses.create(
        model="gpt-5.5",
        input=[
            {"role": "user", "content": "weather?"},
            {
                "type": "function_call",
                "call_id": "call_1",
                "name": "get_weather",
                "arguments": '{"city":"Paris"}',
            },
            {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
        ],
        tools=TOOLS,
    )
    assert resp.output_text == "It is sunny."
    msgs = upstream.last["messages"]
    assert msgs[1]["role"] == "assistant"
    assert msgs[1]["tool_calls"][0]["id"] == "call_1"
    assert msgs[2] == {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}


# -- upstream failures --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "expected_status", "expected_code"),
    [
        (400, {"error": {"message": "bad things", "type": "invalid_request_error"}}, 400, None),
        (
            401,
            {"error": {"message": "Authentication Fails", "type": "authentication_error"}},
            502,
            "provider.auth",
        ),
        (500, {"error": {"message": "boom"}}, 502, None),
        (503, {"error": {"message": "overloaded"}}, 502, None),
    ],
)
def test_upstream_http_errors(
    client: openai.OpenAI,
    upstream: FakeUpstream,
    status: int,
    body: dict[str, Any],
    expected_status: int,
    expected_code: str | None,
) -> None:
    upstream.push(Reply.json(body, status=status))
    with pytest.raises(openai.APIStatusError) as info:
        client.responses.create(model="gpt-5.5", input="x")
    assert info.value.status_code == expected_status
    err = info.value.body  # the SDK unwraps "error"
    assert body["error"]["message"] in err["message"]
    if expected_code:
        assert err["godex_code"] == expected_code


def test_upstream_429_keeps_retry_after(http: httpx.Client, upstream: FakeUpstream) -> None:
    upstream.push(
        Reply.json(
            {"error": {"message": "Too many requests"}}, status=429, headers={"retry-after": "7"}
        )
    )
    resp = http.post("/v1/responses", json={"model": "gpt-5.5", "input": "x"})
    assert resp.status_code == 429
    assert resp.headers["retry-after"] == "7"
    assert resp.json()["error"]["code"] == "rate_limit_exceeded"


def test_mid_stream_reset_fails_cleanly(http: httpx.Client, upstream: FakeUpstream) -> None:
    upstream.push(Reply(chunks=[sse(chunk("partial "), done=False)], close_abruptly=True))
    events = raw_events(http, {"model": "gpt-5.5", "input": "x", "stream": True})
    final = check_stream(events)
    assert final["status"] == "failed"
    assert final["output"][0]["content"][0]["text"] == "partial "
    assert final["output"][0]["status"] == "incomplete"


def test_stream_without_finish_fails(http: httpx.Client, upstream: FakeUpstream) -> None:
    upstream.push(Reply(sse(chunk("never finished"))))
    final = check_stream(raw_events(http, {"model": "gpt-5.5", "input": "x", "stream": True}))
    assert final["status"] == "failed"
    assert final["error"]["code"]


def test_error_inside_200_stream(http: httpx.Client, upstream: FakeUpstream) -> None:
    upstream.push(
        Reply(
            sse(chunk("a"), {"error": {"message": "upstream exploded", "code": "500"}}, done=False)
        )
    )
    events = raw_events(http, {"model": "gpt-5.5", "input": "x", "stream": True})
    final = check_stream(events)
    assert final["status"] == "failed"
    assert "upstream exploded" in final["error"]["message"]
    assert any(e["type"] == "error" for e in events)


def test_length_is_incomplete(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    upstream.push(Reply.json(completion_body("cut", finish="length")))
    resp = client.responses.create(model="gpt-5.5", input="x")
    assert resp.status == "incomplete"
    assert resp.incomplete_details is not None
    assert resp.incomplete_details.reason == "max_output_tokens"


# -- input validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "x"}, "model"),
        ({"model": "gpt-5.5"}, "input"),
        ({"model": "gpt-5.5", "input": "x", "temperature": "hot"}, "temperature"),
    ],
)
def test_bad_input_is_400(http: httpx.Client, body: dict[str, Any], param: str) -> None:
    resp = http.post("/v1/responses", json=body)
    assert resp.status_code == 400
    err = resp.json()["error"]
    assert err["param"] == param
    assert set(err) >= {"message", "type", "param", "code"}


def test_bad_json_is_400(http: httpx.Client) -> None:
    resp = http.post(
        "/v1/responses", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["type"] == "invalid_request_error"


def test_unknown_route_404(http: httpx.Client) -> None:
    resp = http.get("/v1/nope")
    assert resp.status_code == 404
    assert resp.json()["error"]["message"]


def test_upgrades_other_than_a_websocket_handshake_are_refused(http: httpx.Client) -> None:
    # With server.websocket on (the default) a real handshake is accepted (test_websocket.py);
    # a half one fails the handshake, and other protocols get 426.
    half = http.get("/v1/responses", headers={"upgrade": "websocket", "connection": "Upgrade"})
    assert half.status_code == 400
    other = http.get("/v1/responses", headers={"upgrade": "h2c", "connection": "Upgrade"})
    assert other.status_code == 426
    assert "WebSocket" in other.json()["error"]["message"]


def test_models_and_health(http: httpx.Client, gateway: RunningGateway) -> None:
    models = http.get("/v1/models?client_version=0.169.0").json()
    ids = [m["id"] for m in models["data"]]
    assert "gpt-5.5" in ids and "ds/deepseek-v4-pro" in ids
    health = http.get("/health").json()
    assert health["status"] == "ok"
    assert {p["name"] for p in health["providers"]} == {"ds", "generic"}
