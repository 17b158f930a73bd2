"""redis-py behind the lean client's three calls, for the URLs that client leaves to it:
``rediss://`` (TLS with redis-py's certificate and hostname options), ``unix://`` sockets and
any option given in a query string (``?db=``, ``?ssl_cert_reqs=`` ...). It costs several times
the CPU per command of ``resp_client``; plain ``redis://`` never comes here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis

from godex.limits.resp import Arg
from godex.limits.resp_client import CONNECT_TIMEOUT_S, TIMEOUT_S, Script


class RedisPyClient:
    def __init__(self, url: str) -> None:
        self.client: Any = aioredis.from_url(
            url, socket_connect_timeout=CONNECT_TIMEOUT_S, socket_timeout=TIMEOUT_S
        )
        self._scripts: dict[bytes, Any] = {}

    async def run(self, script: Script, keys: Sequence[Arg], args: Sequence[Arg]) -> Any:
        registered = self._scripts.get(script.sha)
        if registered is None:  # redis-py's Script: EVALSHA, SCRIPT LOAD on NOSCRIPT
            registered = self._scripts[script.sha] = self.client.register_script(script.text)
        return await registered(keys=keys, args=args)

    async def mget(self, *keys: Arg) -> list[Any]:
        return list(await self.client.mget(*keys))

    async def close(self) -> None:
        await self.client.aclose()
