"""Responses over WebSocket against the real server, over real sockets.

The OpenAI SDK's ``responses.connect()`` and a raw ``websockets`` client drive GodeX; the fake
upstream is the same Chat Completions replay the HTTP tests use.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from godex.config.schema import SessionConfig, TraceConfig
from tests.fakes.replay_upstream import (
    FakeUpstream,
    Reply,
    chunk,
    sse,
    text_stream,
    usage,
)
from tests.support.gateway import RunningGateway, make_config, provider, run_gateway

KEY = "sk-ws-client"
TERMINAL = {"response.completed", "response.failed", "response.incomplete"}


def tool_call(call_id: str, name: str, args: dict[str, Any]) -> Reply:
    raw = json.dumps(args)
    head = {"index": 0, "id": call_id, "type": "function"}
    return Reply(
        body=sse(
            chunk(tool_calls=[{**head, "function": {"name": name, "arguments": raw}}]),
            chunk(finish="tool_calls", usage=usage(20, 5)),
        )
    )


@pytest.fixture(scope="module")
def ws_gateway(
    upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    tmp = tmp_path_factory.mktemp("ws")
    cfg = make_config(
        tmp,
        [provider("generic", "openai_compatible", upstream.base_url)],
        aliases={"plain": "generic/some-model"},
        server={"api_keys": (KEY,)},
        trace=TraceConfig(enabled=True, path=str(tmp / "trace.db"), flush_interval_ms=20),
    )
    with run_gateway(cfg) as gw:
        yield gw


def ws_url(gw: RunningGateway) -> str:
    return f"ws://127.0.0.1:{gw.port}/v1/responses"


def open_ws(gw: RunningGateway, key: str | None = KEY) -> ClientConnection:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return connect(ws_url(gw), additional_headers=headers, open_timeout=10, max_size=None)


def send(ws: ClientConnection, **event: Any) -> None:
    ws.send(json.dumps({"type": "response.create", **event}))


def recv(ws: ClientConnection) -> dict[str, Any]:
    return dict(json.loads(ws.recv(timeout=20)))


def turn(ws: ClientConnection) -> list[dict[str, Any]]:
    """Events up to and including the next terminal one (an ``error`` before any is one too)."""
    events = [recv(ws)]
    if events[0]["type"] == "error":
        return events
    while events[-1]["type"] not in TERMINAL:
        events.append(recv(ws))
    return events


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Wait for a condition another thread brings about (bounded; not a sleep-as-sync)."""
    done = threading.Event()
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        done.wait(0.01)


# -- the OpenAI SDK ---------------------------------------------------------------------------
def test_sdk_connect_runs_a_store_false_tool_loop_by_previous_response_id(
    ws_gateway: RunningGateway, upstream: FakeUpstream
) -> None:
    upstream.push(
        tool_call("call_1", "lookup", {"q": "alpha"}),
        tool_call("call_2", "lookup", {"q": "beta"}),
        Reply(body=text_stream("alpha=1, beta=2")),
    )
    tools = [
        {
            "type": "function",
            "name": "lookup",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
        }
    ]
    client = openai.OpenAI(base_url=ws_gateway.v1, api_key=KEY, max_retries=0)
    ids: list[str] = []
    with client.responses.connect() as conn:
        conn.response.create(model="plain", input="look both up", tools=tools, store=False)
        for _ in range(3):
            final = None
            for ev in conn:
                if ev.type == "error":
                    raise AssertionError(ev.to_json())
                if ev.type == "response.completed":
                    final = ev.response
                    break
            assert final is not None and final.store is False
            ids.append(final.id)
            calls = [o for o in final.output if o.type == "function_call"]
            if not calls:
                assert final.output_text == "alpha=1, beta=2"
                break
            conn.response.create(
                model="plain",
                tools=tools,
                store=False,
                previous_response_id=final.id,
                input=[
                    {"type": "function_call_output", "call_id": calls[0].call_id, "output": "1"}
                ],
            )
    assert len(ids) == 3 and len(set(ids)) == 3
    # The last upstream call carries the whole conversation, rebuilt from the socket's memory.
    messages = upstream.requests[-1].body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant", "tool"]
    assert [m.get("tool_call_id") for m in messages if m["role"] == "tool"] == ["call_1", "call_2"]
    # store: false really stored nothing: the ids are unknown over HTTPS.
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(ids[0])


def test_store_false_continuation_of_an_unknown_id_is_previous_response_not_found(
    ws_gateway: RunningGateway,
) -> None:
    with open_ws(ws_gateway) as ws:
        send(ws, model="plain", input="hi", store=False, previous_response_id="resp_elsewhere")
        (err,) = turn(ws)
        assert err["type"] == "error" and err["status"] == 400
        assert err["error"]["code"] == "previous_response_not_found"
        assert err["error"]["param"] == "previous_response_id"
        # The connection stays usable after an error event.
        ws.send(json.dumps({"type": "response.steer", "previous_response_id": "x", "input": "y"}))
        steer = recv(ws)
        assert steer["type"] == "response.steer.failed"
        assert steer["error"]["code"] == "steering_not_supported"
        assert steer["steer"]["input"] == "y"


def test_stored_responses_continue_across_connections_and_over_https(
    ws_gateway: RunningGateway, upstream: FakeUpstream
) -> None:
    upstream.push(Reply(body=text_stream("first")), Reply(body=text_stream("second")))
    with open_ws(ws_gateway) as ws:
        send(ws, model="plain", input="one")
        first = turn(ws)[-1]["response"]
    # A new socket has no memory of it: the id resolves from the store, as over HTTPS.
    with open_ws(ws_gateway) as ws:
        send(ws, model="plain", input="two", previous_response_id=first["id"])
        done = turn(ws)[-1]
    assert done["type"] == "response.completed"
    assert [m["content"] for m in upstream.requests[-1].body["messages"]] == [
        "one",
        "first",
        "two",
    ]
    client = openai.OpenAI(base_url=ws_gateway.v1, api_key=KEY, max_retries=0)
    assert client.responses.retrieve(done["response"]["id"]).output_text == "second"


def test_the_socket_sends_the_events_the_sse_stream_sends(
    ws_gateway: RunningGateway, upstream: FakeUpstream
) -> None:
    body = sse(
        chunk(reasoning="think"),
        chunk("hel"),
        chunk("lo", finish="stop", usage=usage(9, 4)),
    )
    upstream.push(Reply(body=body), Reply(body=body))
    with httpx.Client(timeout=20) as http:
        r = http.post(
            ws_gateway.v1 + "/responses",
            headers={"authorization": f"Bearer {KEY}"},
            json={"model": "plain", "input": "same", "stream": True, "store": False},
        )
    over_http = [json.loads(line[5:]) for line in r.text.splitlines() if line.startswith("data:")]
    with open_ws(ws_gateway) as ws:
        send(ws, model="plain", input="same", store=False)
        over_ws = turn(ws)

    def neutral(events: list[dict[str, Any]]) -> str:
        text = json.dumps(events, sort_keys=True)
        for ev in events:  # ids and times differ per response; nothing else may
            for value in (ev.get("response") or {}).get("id"), (ev.get("item") or {}).get("id"):
                if value:
                    text = text.replace(value, "ID")
            created = (ev.get("response") or {}).get("created_at")
            if created is not None:
                text = text.replace(f'"created_at": {json.dumps(created)}', '"created_at": 0')
        return text

    assert [e["type"] for e in over_ws] == [e["type"] for e in over_http]
    assert neutral(over_ws) == neutral(over_http)


# -- concurrency and faults -------------------------------------------------------------------
def test_two_turns_sent_at_once_run_one_after_the_other(
    ws_gateway: RunningGateway, upstream: FakeUpstream
) -> None:
    gate = threading.Event()
    upstream.push(
        Reply(
            chunks=[sse(chunk("one-a"), done=False), sse(chunk("one-b", finish="stop"))], gate=gate
        ),
        Reply(body=text_stream("two")),
    )
    with open_ws(ws_gateway) as ws:
        send(ws, model="plain", input="first", store=False)
        send(ws, model="plain", input="second", store=False)
        events = [recv(ws)]
        while events[-1]["type"] != "response.output_text.delta":
            events.append(recv(ws))
        # The first turn is held mid-stream; the second has not reached the upstream.
        assert len(upstream.requests) == 1
        gate.set()
        events += turn(ws)
        second = turn(ws)
    assert events[-1]["type"] == "response.completed"
    assert second[0]["type"] == "response.created" and second[-1]["type"] == "response.completed"
    assert second[0]["response"]["id"] != events[0]["response"]["id"]
    assert [r.body["messages"][-1]["content"] for r in upstream.requests] == ["first", "second"]


def test_named_lanes_run_side_by_side_and_echo_their_stream_id(
    ws_gateway: RunningGateway, upstream: FakeUpstream
) -> None:
    gate = threading.Event()
    upstream.push(
        Reply(
            chunks=[sse(chunk("slow-a"), done=False), sse(chunk("slow-b", finish="stop"))],
            gate=gate,
        ),
        Reply(body=text_stream("fast")),
    )
    with open_ws(ws_gateway) as ws:
        send(ws, model="plain", input="slow", store=False, stream_id="a")
        wait_for(lambda: len(upstream.requests) == 1, "the slow lane's upstream call")
        send(ws, model="plain", input="fast", store=False, stream_id="b")
        seen: dict[str, list[dict[str, Any]]] = {"a": [], "b": []}
        # Lane b completes while lane a is still held.
        while not seen["b"] or seen["b"][-1]["type"] != "response.completed":
            ev = recv(ws)
            seen[ev["stream_id"]].append(ev)
        assert not any(e["type"] in TERMINAL for e in seen["a"])
        gate.set()
        while not seen["a"] or seen["a"][-1]["type"] not in TERMINAL:
            ev = recv(ws)
            seen[ev["stream_id"]].append(ev)
        send(ws, model="plain", input="x", store=False, stream_id="bad id!")
        bad = recv(ws)
    assert seen["a"][-1]["type"] == "response.completed"
    assert bad["type"] == "error" and bad["error"]["code"] == "invalid_stream_id"


def test_an_upstream_error_mid_turn_fails_that_turn_and_the_socket_goes_on(
    ws_gateway: RunningGateway, upstream: FakeUpstream
) -> None:
    upstream.push(
        Reply(body=sse(chunk("partial")) + b"data: {not json\n\n"),
        Reply(body=text_stream("recovered")),
    )
    with open_ws(ws_gateway) as ws:
        send(ws, model="plain", input="one", store=False)
        failed = turn(ws)
        assert failed[-1]["type"] == "response.failed"
        assert failed[-1]["response"]["error"]["code"].startswith("provider.")
        # The same in-stream ``error`` event the SSE stream carries comes first.
        assert failed[-2]["type"] == "error"
        # A failed response is not continued from on this connection.
        send(ws, model="plain", input="again", store=False,
             previous_response_id=failed[-1]["response"]["id"])  # fmt: skip
        (err,) = turn(ws)
        assert err["error"]["code"] == "previous_response_not_found"
        send(ws, model="plain", input="fresh", store=False)
        ok = turn(ws)
    assert ok[-1]["type"] == "response.completed"


def test_a_client_that_drops_mid_turn_cancels_the_upstream_request(
    ws_gateway: RunningGateway, upstream: FakeUpstream
) -> None:
    before = upstream.disconnects
    # The fake notices a gone client when it next writes: comments keep it writing.
    pieces = [sse(chunk("start"), done=False)] + [b": keep-alive\n\n"] * 400
    upstream.push(Reply(chunks=pieces, pause_s=0.02))
    ws = open_ws(ws_gateway)
    send(ws, model="plain", input="long", store=False)
    ev = recv(ws)
    while ev["type"] != "response.output_text.delta":
        ev = recv(ws)
    ws.close()
    wait_for(lambda: upstream.disconnects > before, "the upstream request to be cancelled")
    wait_for(lambda: _gauge(ws_gateway, "godex_websockets_open") == 0, "the socket to close")


# -- the door: auth, limits, lifetime ---------------------------------------------------------
def test_the_upgrade_needs_the_same_key_as_https(ws_gateway: RunningGateway) -> None:
    for key in (None, "sk-wrong"):
        with pytest.raises(InvalidStatus) as caught:
            open_ws(ws_gateway, key)
        assert caught.value.response.status_code == 401
        assert json.loads(caught.value.response.body)["error"]["code"] == "invalid_api_key"
    with connect(ws_url(ws_gateway), additional_headers={"x-api-key": KEY}, open_timeout=10) as ws:
        ws.send("not json")
        err = recv(ws)
    assert err["type"] == "error" and err["error"]["code"] == "invalid_json"


def test_turns_are_traced_and_counted_like_https_requests(
    ws_gateway: RunningGateway, upstream: FakeUpstream
) -> None:
    upstream.push(Reply(body=text_stream("traced", prompt=7, completion=3)))
    with open_ws(ws_gateway) as ws:
        send(ws, model="plain", input="trace me", store=False)
        rid = turn(ws)[-1]["response"]["id"]
        assert _gauge(ws_gateway, "godex_websockets_open") >= 1
    db = Path(ws_gateway.app.services.config.trace.path)

    def row() -> dict[str, Any] | None:
        if not db.exists():
            return None
        conn = sqlite3.connect(db)
        conn.row_factory = sqlite3.Row
        try:
            found = conn.execute("SELECT * FROM requests WHERE response_id = ?", (rid,)).fetchone()
        except sqlite3.OperationalError:
            return None
        finally:
            conn.close()
        return dict(found) if found else None

    wait_for(lambda: row() is not None, "the turn's trace row")
    traced = row()
    assert traced is not None
    assert traced["route"] == "responses.create" and traced["method"] == "WS"
    assert traced["client_key_id"] and traced["status"] == "completed"
    assert traced["input_tokens"] == 7 and traced["output_tokens"] == 3


def _metrics(gw: RunningGateway) -> dict[str, float]:
    text = httpx.get(gw.base_url + "/metrics", headers={"authorization": f"Bearer {KEY}"}).text
    out: dict[str, float] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[s.name] = out.get(s.name, 0.0) + s.value
    return out


def _gauge(gw: RunningGateway, name: str) -> float:
    return _metrics(gw).get(name, 0.0)


@pytest.fixture
def tight_gateway(upstream: FakeUpstream, tmp_path: Path) -> Iterator[RunningGateway]:
    cfg = make_config(
        tmp_path,
        [provider("generic", "openai_compatible", upstream.base_url)],
        aliases={"plain": "generic/some-model"},
        session=SessionConfig(enabled=False),
        server={
            "api_keys": (KEY, "sk-other"),
            "websocket_max_per_key": 2,
            "websocket_max_lifetime_s": 3600.0,
            "websocket_idle_timeout_s": 3600.0,
        },
    )
    with run_gateway(cfg) as gw:
        yield gw


def test_open_sockets_are_bounded_per_client_key(tight_gateway: RunningGateway) -> None:
    with open_ws(tight_gateway), open_ws(tight_gateway):
        with pytest.raises(InvalidStatus) as caught:
            open_ws(tight_gateway)
        assert caught.value.response.status_code == 429
        body = json.loads(caught.value.response.body)
        assert body["error"]["godex_code"] == "limits.websockets_per_key"
        with open_ws(tight_gateway, "sk-other"):  # another key has its own budget
            assert _gauge(tight_gateway, "godex_websockets_open") == 3
    wait_for(lambda: _gauge(tight_gateway, "godex_websockets_open") == 0, "sockets to close")
    with open_ws(tight_gateway):
        pass


@pytest.mark.parametrize(
    ("limits", "code", "reason"),
    [
        ({"websocket_max_lifetime_s": 0.3}, "websocket_connection_limit_reached", "lifetime"),
        ({"websocket_idle_timeout_s": 0.3}, None, "idle"),
    ],
)
def test_connections_end_at_their_lifetime_and_when_idle(
    upstream: FakeUpstream, tmp_path: Path, limits: dict[str, float], code: str | None, reason: str
) -> None:
    cfg = make_config(
        tmp_path,
        [provider("generic", "openai_compatible", upstream.base_url)],
        aliases={"plain": "generic/some-model"},
        server=limits,
    )
    with run_gateway(cfg) as gw, open_ws(gw, None) as ws:
        if code is not None:
            err = recv(ws)
            assert err["type"] == "error" and err["error"]["code"] == code
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
        assert reason in closed.value.rcvd.reason


def test_sessions_off_turns_websocket_continuations_into_the_connection_only(
    tight_gateway: RunningGateway, upstream: FakeUpstream
) -> None:
    upstream.push(Reply(body=text_stream("a")), Reply(body=text_stream("b")))
    with open_ws(tight_gateway) as ws:
        send(ws, model="plain", input="one")
        rid = turn(ws)[-1]["response"]["id"]
        send(ws, model="plain", input="two", previous_response_id=rid)
        assert turn(ws)[-1]["type"] == "response.completed"
    with open_ws(tight_gateway) as ws:
        send(ws, model="plain", input="three", previous_response_id=rid)
        (err,) = turn(ws)
    assert err["error"]["code"] == "previous_response_not_found"


# -- hostile input ----------------------------------------------------------------------------
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    message=st.one_of(
        st.text(max_size=60),
        _json.map(json.dumps),
        st.fixed_dictionaries(
            {"type": st.just("response.create")},
            optional={
                "model": _json,
                "input": _json,
                "stream_id": _json,
                "previous_response_id": _json,
                "tools": _json,
                "background": _json,
            },
        ).map(json.dumps),
    )
)
def test_any_message_gets_an_answer_and_never_breaks_the_socket(
    ws_gateway: RunningGateway, upstream: FakeUpstream, message: str
) -> None:
    upstream.default = lambda body: Reply(body=text_stream("ok"))
    with open_ws(ws_gateway) as ws:
        ws.send(message)
        ws.send(json.dumps({"type": "response.steer", "previous_response_id": "p", "input": "i"}))
        seen = [recv(ws)]
        while seen[-1]["type"] != "response.steer.failed":
            seen.append(recv(ws))
    for ev in seen:
        if ev["type"] == "error":
            assert 400 <= ev["status"] < 500, ev
        else:
            assert ev["type"].startswith("response."), ev


def test_websocket_off_answers_the_upgrade_with_a_fast_426(
    upstream: FakeUpstream, tmp_path: Path
) -> None:
    cfg = make_config(
        tmp_path,
        [provider("generic", "openai_compatible", upstream.base_url)],
        server={"websocket": False},
    )
    with run_gateway(cfg) as gw, pytest.raises(InvalidStatus) as caught:
        open_ws(gw, None)
    assert caught.value.response.status_code == 426
    body = json.loads(caught.value.response.body)
    assert body["error"]["code"] == "server.websocket_unsupported"
