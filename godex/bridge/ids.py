"""Response and item ids in OpenAI's shapes (``resp_…``, ``msg_…``, ``call_…``)."""

from __future__ import annotations

import os


def new_id(prefix: str) -> str:
    # 24 random bytes in hex: unique without coordination across workers and machines.
    return f"{prefix}_{os.urandom(24).hex()}"
