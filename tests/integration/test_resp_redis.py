"""The lean Redis client against a real Redis (127.0.0.1:6379): pipelined replies in order,
NOSCRIPT recovery, reconnects, AUTH and SELECT from the URL, and the redis-py fallback."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator

import pytest

from godex.config.schema import KeyLimits
from godex.limits.base import Bucket, window_of
from godex.limits.redis import RedisLimiter
from godex.limits.redis_py import RedisPyClient
from godex.limits.resp import RedisConnectionError, RedisTimeout, ReplyError
from godex.limits.resp_client import Address, RespClient, Script, parse_url

HOST, PORT = "127.0.0.1", 6379


def _client(url: str = f"redis://{HOST}:{PORT}/0", **kw: float) -> RespClient:
    address = parse_url(url)
    assert address is not None
    return RespClient(address, **kw)


@pytest.fixture
def prefix() -> str:
    return f"godex-test-resp:{secrets.token_hex(6)}:"


@pytest.fixture
async def admin(prefix: str) -> AsyncIterator[RespClient]:
    """A second connection: kills, checks, and the keys' clean-up."""
    c = _client()
    yield c
    for db in (0, 1):
        await c.call("SELECT", db)
        keys = await c.call("KEYS", prefix + "*")
        if keys:
            await c.call("DEL", *keys)
    await c.close()


async def test_concurrent_commands_share_one_connection_and_get_their_own_replies(
    prefix: str, admin: RespClient
) -> None:
    c = _client()
    try:
        n = 300
        sets = await asyncio.gather(*(c.call("SET", f"{prefix}{i}", f"v{i}") for i in range(n)))
        gets = await asyncio.gather(*(c.call("GET", f"{prefix}{i}") for i in range(n)))
        incrs = await asyncio.gather(*(c.call("INCR", f"{prefix}n") for _ in range(n)))
        mixed = await asyncio.gather(
            c.call("ECHO", "a"), c.call("INCRBY", f"{prefix}n", 5), c.call("MGET", f"{prefix}0")
        )
    finally:
        await c.close()
    assert sets == [b"OK"] * n
    assert gets == [f"v{i}".encode() for i in range(n)]
    assert incrs == list(range(1, n + 1))  # issued in order, answered in order
    assert list(mixed) == [b"a", n + 5, [b"v0"]]
    assert c.connects == 1


async def test_an_error_reply_fails_its_command_only(prefix: str, admin: RespClient) -> None:
    c = _client()
    try:
        await c.call("SET", f"{prefix}s", "x")
        got = await asyncio.gather(
            c.call("INCR", f"{prefix}s"), c.call("ECHO", "after"), return_exceptions=True
        )
    finally:
        await c.close()
    assert isinstance(got[0], ReplyError) and "not an integer" in str(got[0])
    assert got[1] == b"after"


async def test_a_flushed_script_is_sent_again_and_cached(prefix: str, admin: RespClient) -> None:
    script = Script(f"-- {prefix}\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])")
    c = _client()
    try:
        assert await c.run(script, [f"{prefix}k"], [2]) == 2
        await admin.call("SCRIPT", "FLUSH")
        assert await admin.call("SCRIPT", "EXISTS", script.sha) == [0]
        after = await asyncio.gather(*(c.run(script, [f"{prefix}k"], [1]) for _ in range(5)))
        cached = await admin.call("SCRIPT", "EXISTS", script.sha)
        plain = await c.call("EVALSHA", script.sha, 1, f"{prefix}k", 10)  # no retry needed now
    finally:
        await c.close()
    assert after == [3, 4, 5, 6, 7] and cached == [1] and plain == 17


async def test_a_script_error_is_a_reply_error_not_a_retry(admin: RespClient) -> None:
    c = _client()
    try:
        with pytest.raises(ReplyError, match="boom"):
            await c.run(Script("return redis.error_reply('boom')"), [], [])
    finally:
        await c.close()


async def test_a_killed_connection_fails_what_is_in_flight_and_the_next_command_reconnects(
    prefix: str, admin: RespClient
) -> None:
    c = _client()
    try:
        first_id = await c.call("CLIENT", "ID")
        blocked = asyncio.ensure_future(c.call("BLPOP", f"{prefix}never", 5))
        await asyncio.sleep(0.1)
        assert await admin.call("CLIENT", "KILL", "ID", first_id) == 1
        with pytest.raises(RedisConnectionError):
            await asyncio.wait_for(blocked, 2)
        second_id = await c.call("CLIENT", "ID")
        # Killed while idle: the close is seen and the next command connects afresh.
        assert await admin.call("CLIENT", "KILL", "ID", second_id) == 1
        await asyncio.sleep(0.1)
        third_id = await c.call("CLIENT", "ID")
    finally:
        await c.close()
    assert first_id != second_id != third_id and c.connects == 3


async def test_an_answer_over_the_bound_times_out_and_the_next_command_reconnects(
    prefix: str, admin: RespClient
) -> None:
    c = _client(timeout_s=0.3)
    try:
        t0 = time.monotonic()
        with pytest.raises(RedisTimeout):
            await c.call("BLPOP", f"{prefix}never", 3)
        waited = time.monotonic() - t0
        assert await c.call("PING") == b"PONG"
    finally:
        await c.close()
    assert 0.25 < waited < 1.5 and c.connects == 2


async def test_a_refused_connect_is_a_connection_error() -> None:
    c = RespClient(Address("127.0.0.1", 1))
    try:
        with pytest.raises(RedisConnectionError, match=r"127\.0\.0\.1:1"):
            await c.call("PING")
        with pytest.raises(RedisConnectionError):  # and again: every command tries afresh
            await c.call("PING")
    finally:
        await c.close()


async def test_concurrent_commands_wait_for_one_connect(admin: RespClient) -> None:
    c = _client()
    try:
        got = await asyncio.gather(*(c.call("PING") for _ in range(20)))
    finally:
        await c.close()
    assert got == [b"PONG"] * 20 and c.connects == 1


async def test_the_url_db_is_selected(prefix: str, admin: RespClient) -> None:
    c1 = _client(f"redis://{HOST}:{PORT}/1")
    try:
        await c1.call("SET", f"{prefix}one", "1")
        info = await c1.call("CLIENT", "INFO")
    finally:
        await c1.close()
    assert b" db=1 " in info
    await admin.call("SELECT", 0)
    assert await admin.call("EXISTS", f"{prefix}one") == 0
    await admin.call("SELECT", 1)
    assert await admin.call("EXISTS", f"{prefix}one") == 1


async def test_the_url_user_and_password_authenticate(admin: RespClient) -> None:
    user, password = f"godex-test-{secrets.token_hex(4)}", f"p@ss:{secrets.token_hex(6)}/%"
    await admin.call("ACL", "SETUSER", user, "on", f">{password}", "~*", "+@all")
    quoted = (
        password.replace("%", "%25").replace("@", "%40").replace(":", "%3A").replace("/", "%2F")
    )
    good = _client(f"redis://{user}:{quoted}@{HOST}:{PORT}/0")
    bad = _client(f"redis://{user}:wrong-{quoted}@{HOST}:{PORT}/0")
    try:
        whoami = await good.call("ACL", "WHOAMI")
        with pytest.raises(RedisConnectionError) as refused:
            await bad.call("PING")
    finally:
        await good.close()
        await bad.close()
        await admin.call("ACL", "DELUSER", user)
    assert whoami == user.encode()
    assert "AUTH" in str(refused.value) and password not in str(refused.value)


async def test_urls_the_client_leaves_alone_go_through_redis_py(prefix: str) -> None:
    lim = RedisLimiter(f"redis://{HOST}:{PORT}/?db=0", prefix)
    assert isinstance(lim.client, RedisPyClient)
    try:
        w = window_of(time.time())
        b = (Bucket("key:a", KeyLimits(rpm=2)),)
        got = [(await lim.admit(b, w)).admitted for _ in range(3)]
        spent = await lim.spent("a", "2026-12-03", "2026-12")
    finally:
        keys = await lim.client.client.keys(prefix + "*")
        if keys:
            await lim.client.client.delete(*keys)
        await lim.close()
    assert got == [True, True, False] and spent == (0, 0)


def test_a_url_redis_py_refuses_is_still_refused() -> None:
    with pytest.raises(ValueError, match="scheme"):
        RedisLimiter("http://127.0.0.1:6379/0", "p:")


async def test_close_during_a_connect_fails_its_waiters_with_a_connection_error() -> None:
    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # takes the SELECT and never answers: the connect never ends

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    c = RespClient(Address("127.0.0.1", port, db=1))
    try:
        waiter = asyncio.ensure_future(c.call("PING"))
        await asyncio.sleep(0.1)
        assert not waiter.done()
        await c.close()
        with pytest.raises(RedisConnectionError, match="closed"):
            await waiter
    finally:
        server.close()
