"""RESP2, the Redis wire protocol: commands out, replies in, and what can go wrong.

Both directions run in hiredis' C code (a dependency of ``redis[hiredis]``): ``encode`` packs
a command as an array of bulk strings, ``Parser`` turns any split of the reply stream into
whole replies. Replies are simple strings and bulk strings (``bytes``), integers (``int``),
null (``None``), arrays (``list``, nested) and errors, which arrive as ``ReplyError`` *values*
(the caller of that command raises them, the stream goes on).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hiredis

Arg = bytes | str | int


class RedisError(Exception):
    """Anything the Redis client raises (messages never carry the URL or the password)."""


class ReplyError(RedisError):
    """Redis answered this command with an error (``NOSCRIPT ...``, ``WRONGTYPE ...``)."""


class RedisConnectionError(RedisError, ConnectionError):
    """No connection: it could not be made, it dropped, or the stream broke. Commands in
    flight on it fail with this; the next command connects again."""


class RedisTimeout(RedisError, TimeoutError):
    """Connecting (1 s) or an answer (2 s) took too long; the connection is dropped."""


class ProtocolError(RedisConnectionError):
    """The server sent something that is not RESP2: the connection cannot be trusted."""


def encode(args: tuple[Arg, ...]) -> bytes:
    """One command: ``*<n>\\r\\n`` then ``$<len>\\r\\n<bytes>\\r\\n`` per argument (str as
    UTF-8, int in decimal). Anything else (None, bool, a list) raises ``TypeError``."""
    return hiredis.pack_command(args)  # type: ignore[arg-type,no-any-return]


class Parser:
    """Whole replies out of a byte stream fed in pieces of any size."""

    __slots__ = ("_reader",)

    def __init__(self) -> None:
        self._reader = hiredis.Reader(protocolError=ProtocolError, replyError=ReplyError)

    def feed(self, data: bytes) -> Iterator[Any]:
        """Every reply completed by ``data`` (the rest waits for more); a malformed stream
        raises ``ProtocolError``."""
        reader = self._reader
        reader.feed(data)
        while (reply := reader.gets()) is not False:
            yield reply
