"""A Chat Completions upstream that is never the bottleneck.

A raw asyncio protocol on uvloop with pre-built response bytes: non-stream JSON, or SSE with N
DeepSeek-shaped chunks (usage on the finish chunk, optional reasoning chunks). With a per-chunk
delay the stream is paced, as a real model would send it.

    python -m bench.fake_upstream --port 18090 --chunks 50 [--delay-ms 40] [--reasoning 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json

import uvloop

TEXT_PIECE = "tok "


def _chunk(delta: dict[str, object], finish: str | None = None, usage: object = None) -> bytes:
    obj: dict[str, object] = {
        "id": "bench",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "bench-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if usage is not None:
        obj["usage"] = usage
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def build(chunks: int, reasoning: int) -> tuple[bytes, list[bytes], str]:
    text = TEXT_PIECE * chunks
    usage = {"prompt_tokens": 12, "completion_tokens": chunks, "total_tokens": 12 + chunks}
    body = json.dumps(
        {
            "id": "bench",
            "object": "chat.completion",
            "created": 1,
            "model": "bench-model",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": usage,
        }
    ).encode()
    sync = (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
        % len(body)
        + body
    )
    pieces = [_chunk({"role": "assistant", "reasoning_content": "hm "}) for _ in range(reasoning)]
    pieces += [_chunk({"content": TEXT_PIECE}) for _ in range(chunks)]
    pieces.append(_chunk({"content": ""}, "stop", usage))
    pieces.append(b"data: [DONE]\n\n")
    return sync, pieces, text


class Upstream(asyncio.Protocol):
    sync = b""
    pieces: tuple[bytes, ...] = ()
    stream_whole = b""
    delay = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.t: asyncio.Transport = transport  # type: ignore[assignment]
        self.buf = b""
        self.busy = False

    def data_received(self, data: bytes) -> None:
        self.buf += data
        self._serve()

    def _serve(self) -> None:
        while not self.busy:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].lower()
            length = 0
            for line in head.split(b"\r\n"):
                if line.startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if len(self.buf) < end + 4 + length:
                return
            body = self.buf[end + 4 : end + 4 + length]
            self.buf = self.buf[end + 4 + length :]
            if b'"stream":true' not in body.replace(b" ", b""):
                self.t.write(self.sync)
            elif not self.delay:
                self.t.write(self.stream_whole)
            else:
                self.busy = True
                asyncio.get_running_loop().create_task(self._paced())

    async def _paced(self) -> None:
        self.t.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"transfer-encoding: chunked\r\n\r\n"
        )
        loop = asyncio.get_running_loop()
        start = loop.time()
        for i, piece in enumerate(self.pieces):
            if self.t.is_closing():
                return
            self.t.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            # On a fixed schedule, as a model's pace is: a late wake-up (loop lag, timer
            # rounding) is not carried into every later piece.
            await asyncio.sleep(max(0.0, start + (i + 1) * self.delay - loop.time()))
        self.t.write(b"0\r\n\r\n")
        self.busy = False
        self._serve()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=18090)
    ap.add_argument("--chunks", type=int, default=50)
    ap.add_argument("--reasoning", type=int, default=0)
    ap.add_argument("--delay-ms", type=float, default=0.0)
    args = ap.parse_args()
    sync, pieces, _ = build(args.chunks, args.reasoning)
    sse = b"".join(pieces)
    Upstream.sync = sync
    Upstream.pieces = tuple(pieces)
    Upstream.delay = args.delay_ms / 1000
    Upstream.stream_whole = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: %d\r\n\r\n"
        % len(sse)
        + sse
    )

    async def serve() -> None:
        server = await asyncio.get_running_loop().create_server(
            Upstream, "127.0.0.1", args.port, backlog=4096
        )
        await server.serve_forever()

    uvloop.run(serve())


if __name__ == "__main__":
    main()
