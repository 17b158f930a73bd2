"""Background responses through the openai SDK: queued at once, detached, resumable, cancellable."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.fakes.replay_upstream import FakeUpstream, Reply, chunk, sse, usage
from tests.integration.conftest import stored_gateway
from tests.support.gateway import RunningGateway


@pytest.fixture(scope="module", params=["sqlite", "memory"])
def bg_gw(
    request: pytest.FixtureRequest, upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    with stored_gateway(request.param, upstream, tmp_path_factory) as gw:
        yield gw


@pytest.fixture
def sdk(bg_gw: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=bg_gw.v1, api_key="k", max_retries=0, timeout=20)


def _held_reply(gate: threading.Event) -> Reply:
    """``Hel`` at once, ``lo`` and the finish only once the test sets ``gate``."""
    return Reply(
        chunks=[
            sse(chunk("Hel"), done=False),
            sse(chunk("lo"), chunk("", finish="stop", usage=usage())),
        ],
        gate=gate,
    )


def _until_first_delta(sdk: openai.OpenAI, response_id: str) -> int:
    """Follow the live stream until the first text delta; leave; its sequence number."""
    stream: Any = sdk.responses.retrieve(response_id, stream=True)
    try:
        for event in stream:
            if event.type == "response.output_text.delta":
                assert event.delta == "Hel"
                return int(event.sequence_number)
    finally:
        stream.close()
    raise AssertionError("the stream ended before any text")


def test_background_returns_queued_at_once_and_completes_detached(
    sdk: openai.OpenAI, upstream: FakeUpstream
) -> None:
    gate = threading.Event()
    upstream.push(_held_reply(gate))
    try:
        first = sdk.responses.create(model="gpt-5.5", input="hi", background=True)
        # The upstream is still holding its answer: the client got the Response at once.
        assert first.status in ("queued", "in_progress")
        assert first.background is True
        polled = sdk.responses.retrieve(first.id)
        assert polled.status in ("queued", "in_progress")
        seq = _until_first_delta(sdk, first.id)  # the client leaves mid-answer
    finally:
        gate.set()
    resumed: Any = sdk.responses.retrieve(first.id, stream=True, starting_after=seq)
    events = list(resumed)
    assert all(e.sequence_number > seq for e in events)
    assert [e.delta for e in events if e.type == "response.output_text.delta"] == ["lo"]
    assert events[-1].type == "response.completed"
    done = sdk.responses.retrieve(first.id)
    assert done.status == "completed" and done.output_text == "Hello"
    # Resuming after the end replays from the store, from the same point.
    again: Any = sdk.responses.retrieve(first.id, stream=True, starting_after=seq)
    assert [e.type for e in again] == [e.type for e in events]


def test_a_background_stream_can_be_followed_from_the_create_call(
    sdk: openai.OpenAI, upstream: FakeUpstream
) -> None:
    upstream.push(Reply(body=sse(chunk("All "), chunk("done", finish="stop", usage=usage()))))
    stream: Any = sdk.responses.create(model="gpt-5.5", input="hi", background=True, stream=True)
    events = list(stream)
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == "All done"
    assert events[-1].response.background is True


def test_cancel_ends_a_running_background_response_cancelled(
    sdk: openai.OpenAI, upstream: FakeUpstream
) -> None:
    gate = threading.Event()
    upstream.push(_held_reply(gate))
    try:
        first = sdk.responses.create(model="gpt-5.5", input="hi", background=True)
        _until_first_delta(sdk, first.id)
        cancelled = sdk.responses.cancel(first.id)
        assert cancelled.status == "cancelled"
        assert sdk.responses.retrieve(first.id).status == "cancelled"
        replay: Any = sdk.responses.retrieve(first.id, stream=True)
        kinds = [e.type for e in replay]
        assert kinds[0] == "response.created" and kinds[-1] == "response.cancelled"
        # Cancelling again answers the same; a foreground response cannot be cancelled.
        assert sdk.responses.cancel(first.id).status == "cancelled"
    finally:
        gate.set()


def test_background_without_store_is_a_400(sdk: openai.OpenAI, upstream: FakeUpstream) -> None:
    with pytest.raises(openai.BadRequestError):
        sdk.responses.create(model="gpt-5.5", input="hi", background=True, store=False)
    assert not upstream.requests


def test_a_foreground_response_cannot_be_cancelled(
    sdk: openai.OpenAI, upstream: FakeUpstream
) -> None:
    upstream.push(Reply(body=sse(chunk("ok", finish="stop", usage=usage()))))
    done = sdk.responses.create(model="gpt-5.5", input="hi", stream=True)
    response_id = [e for e in done][-1].response.id
    with pytest.raises(openai.BadRequestError):
        sdk.responses.cancel(response_id)
