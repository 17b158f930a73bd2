"""A fake Chat Completions upstream on 127.0.0.1 that replays byte-level transcripts.

Tests queue replies (status, headers, body split into chunks, pauses, abrupt close) and read
back every request the gateway sent. It runs its own event loop in a thread, so a test can
drive it from synchronous code (the openai SDK) and from async code alike.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@dataclass
class Reply:
    body: bytes = b""
    status: int = 200
    content_type: str = "text/event-stream"
    headers: dict[str, str] = field(default_factory=dict)
    # Send the body in these pieces, each flushed separately (None: one piece).
    chunks: list[bytes] | None = None
    # Wait for this event (set by the test) before each piece after the first.
    gate: threading.Event | None = None
    pause_s: float = 0.0  # real-time pause between pieces (slow-upstream tests only)
    close_abruptly: bool = False  # drop the connection after the pieces, no clean end
    hang: bool = False  # after the pieces, keep the connection open until the test ends
    headers_after: threading.Event | None = None  # hold the response headers until set

    @classmethod
    def sse_file(cls, path: str | Path, **kw: Any) -> Reply:
        return cls(body=(FIXTURES / path).read_bytes(), **kw)

    @classmethod
    def json(cls, obj: Any, status: int = 200, **kw: Any) -> Reply:
        return cls(
            body=json.dumps(obj).encode(), status=status, content_type="application/json", **kw
        )


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


def sse(*objs: Any, done: bool = True) -> bytes:
    """Frame chat completion chunks as an SSE body."""
    out = b"".join(b"data: " + json.dumps(o).encode() + b"\n\n" for o in objs)
    return out + (b"data: [DONE]\n\n" if done else b"")


def chunk(
    content: str | None = None,
    *,
    reasoning: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    finish: str | None = None,
    usage: dict[str, Any] | None = None,
    model: str = "fake-model",
) -> dict[str, Any]:
    delta: dict[str, Any] = {}
    if content is not None:
        delta["content"] = content
    if reasoning is not None:
        delta["reasoning_content"] = reasoning
    if tool_calls is not None:
        delta["tool_calls"] = tool_calls
    obj: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if usage is not None:
        obj["usage"] = usage
    return obj


def usage(
    prompt: int = 10, completion: int = 5, cached: int = 0, reasoning: int = 0
) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }


def text_stream(text: str, *, pieces: int = 3, prompt: int = 10, completion: int = 5) -> bytes:
    step = max(1, len(text) // pieces)
    parts = [text[i : i + step] for i in range(0, len(text), step)]
    objs = [chunk(p) for p in parts]
    objs.append(chunk("", finish="stop", usage=usage(prompt, completion)))
    return sse(*objs)


def completion_body(
    text: str | None = "hi",
    *,
    reasoning: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    finish: str = "stop",
    prompt: int = 10,
    completion: int = 5,
    cached: int = 0,
    reasoning_tokens: int = 0,
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if reasoning is not None:
        message["reasoning_content"] = reasoning
    if tool_calls is not None:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "fake-model",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": usage(prompt, completion, cached, reasoning_tokens),
    }


class FakeUpstream:
    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.default: Callable[[dict[str, Any]], Reply] | None = None
        self.requests: list[Seen] = []
        self.disconnects = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self.port = 0

    # -- lifecycle ------------------------------------------------------------------------
    def __enter__(self) -> FakeUpstream:
        self._thread = threading.Thread(target=self._run, name="fake-upstream", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake upstream did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.loop is not None and self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def push(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def reset(self) -> None:
        self.replies.clear()
        self.requests.clear()
        self.default = None

    @property
    def last(self) -> dict[str, Any]:
        return self.requests[-1].body

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        await self._stop.wait()
        await self._runner.cleanup()

    # -- serving --------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {"_raw": raw.decode(errors="replace")}
        self.requests.append(Seen(request.path, dict(request.headers), body))
        if self.replies:
            reply = self.replies.popleft()
        elif self.default is not None:
            reply = self.default(body)
        else:
            reply = Reply.json({"error": {"message": "fake upstream: no reply queued"}}, 500)
        if reply.headers_after is not None:
            await asyncio.get_running_loop().run_in_executor(None, reply.headers_after.wait, 30)
        pieces = reply.chunks if reply.chunks is not None else [reply.body]
        resp = web.StreamResponse(status=reply.status)
        resp.content_type = reply.content_type
        for k, v in reply.headers.items():
            resp.headers[k] = v
        if not reply.close_abruptly and not reply.hang and reply.chunks is None:
            resp.content_length = len(reply.body)
        await resp.prepare(request)
        try:
            for i, piece in enumerate(pieces):
                if i and reply.gate is not None:
                    await asyncio.get_running_loop().run_in_executor(None, reply.gate.wait, 30)
                if i and reply.pause_s:
                    await asyncio.sleep(reply.pause_s)
                if piece:
                    await resp.write(piece)
            if reply.close_abruptly:
                assert request.transport is not None
                request.transport.close()
                return resp
            if reply.hang:
                assert self._stop is not None
                await self._stop.wait()
            await resp.write_eof()
        except (ConnectionResetError, asyncio.CancelledError):
            self.disconnects += 1
            raise
        return resp
