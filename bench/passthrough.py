"""The practical limit for a Python proxy here: forward bytes, translate nothing.

Same stack as GodeX (uvicorn + uvloop + httptools, one pooled aiohttp session). Every POST is
sent to ``{upstream}/chat/completions`` and the answer streamed back as it arrives.

    python -m bench.passthrough --port 18095 --upstream http://127.0.0.1:18090
"""

from __future__ import annotations

import argparse
from typing import Any

import aiohttp
import uvicorn


def make_app(upstream: str) -> Any:
    url = upstream.rstrip("/") + "/chat/completions"
    session: aiohttp.ClientSession | None = None

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        nonlocal session
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    if session is not None:
                        await session.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        assert session is not None
        async with session.post(
            url, data=body, headers={"content-type": "application/json"}
        ) as resp:
            ctype = resp.headers.get("content-type", "application/json").encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": resp.status,
                    "headers": [(b"content-type", ctype)],
                }
            )
            async for chunk in resp.content.iter_any():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})

    return app


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=18095)
    ap.add_argument("--upstream", default="http://127.0.0.1:18090")
    args = ap.parse_args()
    uvicorn.run(
        make_app(args.upstream),
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        ws="none",
        lifespan="on",
        access_log=False,
        log_level="warning",
        proxy_headers=False,
        server_header=False,
    )


if __name__ == "__main__":
    main()
