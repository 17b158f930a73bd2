"""A connection's memory of its own responses (gateway.continuation)."""

from __future__ import annotations

from typing import Any

from godex.bridge.compaction import compaction_item
from godex.bridge.request import ResponsesRequest
from godex.bridge.sealing import Sealer
from godex.gateway.continuation import ConnectionHistory
from godex.gateway.history import NO_HISTORY, History

SEALER = Sealer(b"unit-secret")


def req(text: str, prev: str | None = None) -> ResponsesRequest:
    items = [{"type": "message", "role": "user", "content": text}]
    return ResponsesRequest(raw={}, model="m", input_items=items, previous_response_id=prev)


def answer(rid: str, text: str, status: str = "completed") -> dict[str, Any]:
    item = {"type": "message", "id": f"msg_{rid}", "role": "assistant", "content": text}
    return {"id": rid, "status": status, "output": [item]}


def texts(history: History | None) -> list[str]:
    assert history is not None
    return [str(i["content"]) for i in history.items]


def test_a_lane_continues_from_its_newest_response_with_the_whole_conversation() -> None:
    mem = ConnectionHistory(SEALER)
    mem.remember(None, req("one"), NO_HISTORY, answer("r1", "first"))
    h1 = mem.lookup("r1")
    mem.remember(None, req("two", "r1"), h1 or NO_HISTORY, answer("r2", "second"))
    assert texts(mem.lookup("r2")) == ["one", "first", "two", "second"]
    # Advancing the lane drops the older response, as OpenAI's connection cache does.
    assert mem.lookup("r1") is None
    resolved = mem.lookup("r2")
    assert resolved is not None and resolved.resolve is not None
    assert resolved.resolve("msg_r1") == answer("r1", "first")["output"][0]


def test_lanes_keep_their_own_newest_response() -> None:
    mem = ConnectionHistory(SEALER)
    mem.remember("a", req("a1"), NO_HISTORY, answer("ra", "A"))
    mem.remember("b", req("b1"), NO_HISTORY, answer("rb", "B"))
    assert texts(mem.lookup("ra")) == ["a1", "A"]
    assert texts(mem.lookup("rb")) == ["b1", "B"]


def test_failed_responses_are_not_kept_and_a_failed_continuation_evicts_its_parent() -> None:
    mem = ConnectionHistory(SEALER)
    mem.remember(None, req("one"), NO_HISTORY, answer("r1", "x", status="failed"))
    assert mem.lookup("r1") is None
    mem.remember(None, req("one"), NO_HISTORY, answer("r2", "ok"))
    mem.evict("r2", "other-lane")  # a fork on another lane keeps the shared parent
    assert mem.lookup("r2") is not None
    mem.evict("r2", None)
    assert mem.lookup("r2") is None


def test_the_conversation_is_cut_at_its_latest_compaction_like_a_stored_chain() -> None:
    mem = ConnectionHistory(SEALER)
    item = compaction_item(SEALER, "summary of before")
    compacted = {"id": "rc", "status": "completed", "output": [item]}
    before = History([{"type": "message", "role": "user", "content": "old"}])
    mem.remember(None, req("compact now"), before, compacted)
    kept = mem.lookup("rc")
    assert kept is not None and kept.items == [item]
