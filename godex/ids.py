"""Response and item ids in OpenAI's shapes (``resp_…``, ``msg_…``, ``call_…``).

Ids are 24 bytes from the OS's CSPRNG (a stored response's id is what lets a client read it).
Random bytes are fetched in bulk: one system call serves ~170 ids instead of one each.
"""

from __future__ import annotations

import os

_BLOCK = 4096
_buf = b""
_pos = 0


def new_id(prefix: str) -> str:
    global _buf, _pos
    if _pos + 24 > len(_buf):
        _buf, _pos = os.urandom(_BLOCK), 0
    raw = _buf[_pos : _pos + 24]
    _pos += 24
    return f"{prefix}_{raw.hex()}"


def random_hex(nbytes: int) -> str:
    """``nbytes`` random bytes as hex, from the same bulk buffer (trace and span ids)."""
    global _buf, _pos
    if _pos + nbytes > len(_buf):
        _buf, _pos = os.urandom(_BLOCK), 0
    raw = _buf[_pos : _pos + nbytes]
    _pos += nbytes
    return raw.hex()


def _reset_after_fork() -> None:
    global _buf, _pos
    _buf, _pos = b"", 0  # a forked worker must never reuse its parent's bytes


os.register_at_fork(after_in_child=_reset_after_fork)
