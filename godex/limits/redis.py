"""Counters in Redis, shared by every GodeX instance: each step is one atomic Lua script.

The scripts go over our own pipelined RESP client (``resp_client``); redis-py only serves the
URLs that client leaves to it (``rediss://``, ``unix://``, query options: ``redis_py``). Any
failure raises (a ``resp.RedisError`` or redis-py's own) and ``Admission`` applies
``limits.on_redis_down``.
"""

from __future__ import annotations

from godex.limits.base import WINDOW_S, Bucket, Decision, Spend, Usage
from godex.limits.resp_client import RespClient, Script, parse_url

# KEYS: per bucket (requests, tokens, concurrent). ARGV: bucket count, then per bucket
# (rpm, tpm, concurrent; 0 = no cap), then the window TTL and the concurrency TTL.
# Returns {admitted, refusing bucket (1-based, 0: none), what (1 req, 2 tok, 3 conc), then
# per bucket requests and tokens used}.
_ADMIT = """
local n = tonumber(ARGV[1])
local wttl = tonumber(ARGV[2 + 3 * n])
local cttl = tonumber(ARGV[3 + 3 * n])
local function lim(i, j) return tonumber(ARGV[1 + 3 * (i - 1) + j]) end
local function used(k) return tonumber(redis.call('GET', k) or '0') end
local refused, what = 0, 0
for i = 1, n do
  local base = 3 * (i - 1)
  if lim(i, 1) > 0 and used(KEYS[base + 1]) >= lim(i, 1) then refused, what = i, 1
  elseif lim(i, 2) > 0 and used(KEYS[base + 2]) >= lim(i, 2) then refused, what = i, 2
  elseif lim(i, 3) > 0 and used(KEYS[base + 3]) >= lim(i, 3) then refused, what = i, 3 end
  if refused > 0 then break end
end
if refused == 0 then
  for i = 1, n do
    local base = 3 * (i - 1)
    redis.call('INCR', KEYS[base + 1])
    redis.call('EXPIRE', KEYS[base + 1], wttl)
    if lim(i, 3) > 0 then
      redis.call('INCR', KEYS[base + 3])
      redis.call('EXPIRE', KEYS[base + 3], cttl)
    end
  end
end
local out = {refused == 0 and 1 or 0, refused, what}
for i = 1, n do
  local base = 3 * (i - 1)
  out[#out + 1] = used(KEYS[base + 1])
  out[#out + 1] = used(KEYS[base + 2])
end
return out
"""
# KEYS: the concurrency keys to give back, the token-window keys to charge, then (when there
# is a spend) the key's budget keys (USD today, tokens this month). ARGV: how many of the first
# two kinds, the turn's tokens, the window TTL, then micro-USD, budget tokens, budget TTL.
# Returns {} or, with a spend, {micro-USD today, tokens this month} after it.
_SETTLE = """
local nc, nt = tonumber(ARGV[1]), tonumber(ARGV[2])
local tokens, wttl = tonumber(ARGV[3]), tonumber(ARGV[4])
for i = 1, nc do
  if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then redis.call('DECR', KEYS[i]) end
end
if tokens > 0 then
  for i = nc + 1, nc + nt do
    redis.call('INCRBY', KEYS[i], tokens)
    redis.call('EXPIRE', KEYS[i], wttl)
  end
end
if #KEYS == nc + nt then return {} end
local usd_key, tok_key = KEYS[nc + nt + 1], KEYS[nc + nt + 2]
local bttl = tonumber(ARGV[7])
local usd = redis.call('INCRBY', usd_key, tonumber(ARGV[5]))
redis.call('EXPIRE', usd_key, bttl)
local tok = redis.call('INCRBY', tok_key, tonumber(ARGV[6]))
redis.call('EXPIRE', tok_key, bttl)
return {usd, tok}
"""
_ADMIT_SCRIPT, _SETTLE_SCRIPT = Script(_ADMIT), Script(_SETTLE)
_WHAT = {1: "requests", 2: "tokens", 3: "concurrent"}
# A crashed instance cannot give its slots back: they expire after this (streams may run long).
CONCURRENT_TTL_S = 3600
_BUDGET_TTL_S = 40 * 86400


class RedisLimiter:
    def __init__(self, url: str, prefix: str) -> None:
        address = parse_url(url)
        if address is None:
            from godex.limits.redis_py import RedisPyClient  # TLS, unix sockets, URL options

            self.client: RespClient | RedisPyClient = RedisPyClient(url)
        else:
            self.client = RespClient(address)  # connects on first use: 1 s, answers: 2 s
        self.prefix = prefix
        self._names: dict[tuple[str, int], tuple[str, str, str]] = {}

    def _keys(self, b: Bucket, window: int) -> tuple[str, str, str]:
        """(requests, tokens, concurrent) keys: made once per bucket and window."""
        keys = self._names.get((b.name, window))
        if keys is None:
            if len(self._names) > 4096:  # past windows and buckets gone from the config
                self._names.clear()
            p = f"{self.prefix}{b.name}"
            keys = self._names[b.name, window] = (f"{p}:r:{window}", f"{p}:t:{window}", f"{p}:c")
        return keys

    async def admit(self, buckets: tuple[Bucket, ...], window: int) -> Decision:
        keys: list[str] = []
        args: list[int] = [len(buckets)]
        for b in buckets:
            keys += self._keys(b, window)
            lim = b.limits
            args += (lim.rpm or 0, lim.tpm or 0, lim.concurrent or 0)
        args += (WINDOW_S * 2, CONCURRENT_TTL_S)
        out: list[int] = await self.client.run(_ADMIT_SCRIPT, keys, args)  # Lua numbers: int
        usage = tuple([Usage(out[i], out[i + 1]) for i in range(3, 3 + 2 * len(buckets), 2)])
        if out[0] == 1:
            return Decision(True, usage=usage)
        return Decision(False, out[1] - 1, _WHAT[out[2]], usage)

    async def settle(
        self, buckets: tuple[Bucket, ...], window: int, tokens: int, spend: Spend | None
    ) -> tuple[int, int] | None:
        conc = [self._keys(b, window)[2] for b in buckets if b.limits.concurrent]
        charged = [self._keys(b, window)[1] for b in buckets] if tokens else []
        keys = conc + charged
        args = [len(conc), len(charged), tokens, WINDOW_S * 2, 0, 0, _BUDGET_TTL_S]
        if spend is not None:
            p = f"{self.prefix}budget:{spend.name}"
            keys += [f"{p}:usd:{spend.day}", f"{p}:tok:{spend.month}"]
            args[4], args[5] = spend.micro_usd, spend.tokens
        elif not keys:
            return None
        out = await self.client.run(_SETTLE_SCRIPT, keys, args)
        if spend is None:
            return None
        return int(out[0]), int(out[1])

    async def spent(self, name: str, day: str, month: str) -> tuple[int, int]:
        p = f"{self.prefix}budget:{name}"
        usd, tok = await self.client.mget(f"{p}:usd:{day}", f"{p}:tok:{month}")
        return int(usd or 0), int(tok or 0)

    async def close(self) -> None:
        await self.client.close()
