"""Many GodeX instances on one PostgreSQL behind HAProxy: any instance serves any request."""

from __future__ import annotations

import itertools
import json
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from tests.fakes.replay_upstream import Reply, chunk, completion_body, sse, usage
from tests.support.cluster import Cluster, cluster, godex_yaml
from tests.support.postgres import admin, database_name
from tests.support.process import free_port, start_godex


@pytest.fixture
def two(tmp_path: Path, pg_dsn: str) -> Any:
    with cluster(tmp_path, pg_dsn) as c:
        yield c


def post(c: Cluster, body: dict[str, Any]) -> httpx.Response:
    # A fresh connection each time, so HAProxy balances every request.
    return httpx.post(f"{c.url}/v1/responses", json=body, timeout=20)


def served_by(r: httpx.Response) -> str:
    return str(r.headers["x-godex-instance"])


def test_a_stored_chain_alternates_instances(two: Cluster) -> None:
    up = two.upstream
    by: list[str] = []
    ids: list[str] = []
    prev = None
    for i in range(3):
        up.push(Reply.json(completion_body(f"answer {i}")))
        body: dict[str, Any] = {"model": "m", "input": f"question {i}", "store": True}
        if prev:
            body["previous_response_id"] = prev
        r = post(two, body)
        assert r.status_code == 200, r.text
        by.append(served_by(r))
        prev = r.json()["id"]
        ids.append(prev)
    # The third turn saw the whole history, though its ancestors were made elsewhere.
    sent = [m["content"] for m in up.last["messages"]]
    assert sent == ["question 0", "answer 0", "question 1", "answer 1", "question 2"]

    got = httpx.get(f"{two.url}/v1/responses/{ids[2]}", timeout=10)
    by.append(served_by(got))
    assert got.status_code == 200 and got.json()["output"][0]["content"][0]["text"] == "answer 2"
    items = httpx.get(f"{two.url}/v1/responses/{ids[1]}/input_items", timeout=10)
    by.append(served_by(items))
    assert [i["content"][0]["text"] for i in items.json()["data"]] == ["question 1"]
    deleted = httpx.delete(f"{two.url}/v1/responses/{ids[0]}", timeout=10)
    by.append(served_by(deleted))
    assert deleted.status_code == 200 and deleted.json()["deleted"] is True
    gone = httpx.get(f"{two.url}/v1/responses/{ids[0]}", timeout=10)
    by.append(served_by(gone))
    assert gone.status_code == 404
    broken = post(two, {"model": "m", "input": "more", "previous_response_id": ids[2]})
    by.append(served_by(broken))
    assert broken.json()["error"]["godex_code"] == "session.chain_broken"
    # Every step ran on the other instance than the one before it.
    assert all(x != y for x, y in itertools.pairwise(by)), by
    assert set(by) == {"a", "b"}


def _reasoning_tool_call() -> bytes:
    return sse(
        {"choices": [{"index": 0, "delta": {"reasoning_content": "I need the weather."}}]},
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "call_00_x",
                                "type": "function",
                                "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                            }
                        ]
                    },
                }
            ]
        },
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}], "usage": usage()},
    )


def _final(r: httpx.Response) -> dict[str, Any]:
    events = [json.loads(line[5:]) for line in r.text.splitlines() if line.startswith("data:")]
    done = [e for e in events if e["type"] == "response.completed"]
    assert done, r.text
    return dict(done[0]["response"])


TOOLS = [
    {
        "type": "function",
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
]


def test_codex_style_stateless_turns_and_compaction_alternate_instances(two: Cluster) -> None:
    up = two.upstream
    base = {
        "model": "deepseek-v4-pro",
        "store": False,
        "tools": TOOLS,
        "include": ["reasoning.encrypted_content"],
    }
    up.push(Reply(body=_reasoning_tool_call()))
    first = post(two, {**base, "input": "weather in Oslo?", "stream": True})
    turn1 = _final(first)
    sealed = [i for i in turn1["output"] if i["type"] == "reasoning"]
    assert sealed and sealed[0]["encrypted_content"]
    history: list[dict[str, Any]] = [{"role": "user", "content": "weather in Oslo?"}]
    history += turn1["output"]
    history.append({"type": "function_call_output", "call_id": "call_00_x", "output": "sunny"})

    up.push(Reply.json(completion_body("It is sunny.")))
    second = post(two, {**base, "input": history})
    assert second.status_code == 200, second.text
    # The other instance opened the blob the first one sealed: the reasoning went back.
    assistant = next(m for m in up.last["messages"] if m.get("tool_calls"))
    assert assistant["reasoning_content"] == "I need the weather."
    history += second.json()["output"]

    up.push(Reply.json(completion_body("SUMMARY: Oslo weather asked; it is sunny.")))
    compact = post(two, {**base, "input": [*history, {"type": "compaction_trigger"}]})
    assert compact.status_code == 200, compact.text
    item = compact.json()["output"][0]
    assert item["type"] == "compaction" and item["encrypted_content"]

    up.push(Reply.json(completion_body("Anything else?")))
    after = post(two, {**base, "input": [item, {"role": "user", "content": "thanks"}]})
    assert after.status_code == 200, after.text
    joined = " ".join(str(m.get("content")) for m in up.last["messages"])
    assert "SUMMARY: Oslo weather asked" in joined and "weather in Oslo?" not in joined
    by = [served_by(r) for r in (first, second, compact, after)]
    assert by in (["a", "b", "a", "b"], ["b", "a", "b", "a"]), by


def test_an_instance_with_another_secret_is_refused(two: Cluster, pg_dsn: str) -> None:
    port = free_port()
    cfg = godex_yaml(two.tmp, "c", two.upstream, pg_dsn, "")
    cfg.write_text(cfg.read_text().replace("server: {", "server: {secret: not-the-shared-one, "))
    proc = start_godex(cfg, port, two.tmp)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert b"config.secret_mismatch" in out and b"not-the-shared-one" not in out


def _slow_stream(body: dict[str, Any]) -> Reply:
    pieces = [sse(chunk(f"part {i} "), done=False) for i in range(8)]
    pieces.append(sse(chunk("", finish="stop", usage=usage())))
    return Reply(chunks=pieces, pause_s=0.03)


def test_kill_9_under_streaming_load_loses_no_completed_response(two: Cluster) -> None:
    two.upstream.default = _slow_stream
    completed: list[str] = []
    after_kill: list[str] = []
    killed = threading.Event()
    lock = threading.Lock()

    def client() -> None:
        for _ in range(12):
            try:
                with httpx.stream(
                    "POST",
                    f"{two.url}/v1/responses",
                    json={"model": "m", "input": "go", "stream": True, "store": True},
                    timeout=20,
                ) as r:
                    for line in r.iter_lines():
                        if line.startswith("data:"):
                            event = json.loads(line[5:])
                            if event["type"] == "response.completed":
                                with lock:
                                    completed.append(event["response"]["id"])
                                    if killed.is_set():
                                        after_kill.append(event["response"]["id"])
            except httpx.TransportError:
                continue  # a stream the kill cut: its client never saw response.completed
            if len(completed) >= 6 and not killed.is_set():
                with lock:
                    if not killed.is_set():
                        two.procs["a"].send_signal(signal.SIGKILL)
                        killed.set()

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert killed.is_set() and two.procs["a"].wait(5) == -signal.SIGKILL
    assert len(after_kill) >= 8  # the balancer routed on to the survivor
    for rid in completed:
        got = httpx.get(f"{two.direct('b')}/v1/responses/{rid}", timeout=10)
        assert got.status_code == 200 and got.json()["status"] == "completed", rid


def _until(check: Any, timeout_s: float = 20) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        threading.Event().wait(0.1)
    raise AssertionError("condition not reached")


def test_postgres_connections_killed_mid_run_fail_clearly_then_recover(
    two: Cluster, pg_database: str
) -> None:
    two.upstream.default = lambda body: Reply.json(completion_body("stored"))
    made = post(two, {"model": "m", "input": "keep me"})
    rid = made.json()["id"]
    db = database_name(pg_database)
    with admin() as conn:
        conn.execute(f'ALTER DATABASE "{db}" ALLOW_CONNECTIONS false'.encode())
        try:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (db,),
            )
            for _ in range(2):  # each instance
                started = time.monotonic()
                r = httpx.get(f"{two.url}/v1/responses/{rid}", timeout=15)
                assert time.monotonic() - started < 5  # bounded, no hang
                assert r.status_code == 503, r.text
                assert r.json()["error"]["godex_code"] == "session.store_unavailable"
                chained = post(two, {"model": "m", "input": "x", "previous_response_id": rid})
                assert chained.status_code == 503
            for name in ("a", "b"):
                _until(
                    lambda n=name: (
                        httpx.get(f"{two.direct(n)}/health", timeout=5).json()["session_store"]
                        == "down"
                    )
                )
                ready = httpx.get(f"{two.direct(name)}/health/ready", timeout=5)
                assert ready.status_code == 503
            assert all(p.poll() is None for p in two.procs.values())  # still up
        finally:
            conn.execute(f'ALTER DATABASE "{db}" ALLOW_CONNECTIONS true'.encode())
    for name in ("a", "b"):
        _until(
            lambda n=name: (
                httpx.get(f"{two.direct(n)}/v1/responses/{rid}", timeout=10).status_code == 200
            )
        )
        health = httpx.get(f"{two.direct(name)}/health", timeout=5).json()
        _until(
            lambda n=name: (
                httpx.get(f"{two.direct(n)}/health", timeout=5).json()["session_store"] == "up"
            )
        )
        assert health["sessions"] == "postgres"
    assert post(two, {"model": "m", "input": "y", "previous_response_id": rid}).status_code == 200
