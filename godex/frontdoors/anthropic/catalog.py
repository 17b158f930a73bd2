"""``GET /v1/models`` in Anthropic's list shape and the ``count_tokens`` estimate."""

from __future__ import annotations

import json
import math
from typing import Any

from godex.bridge.request import ResponsesRequest

_EPOCH = "1970-01-01T00:00:00Z"  # GodeX does not know when a provider released a model


def models_page(ids: list[str]) -> dict[str, Any]:
    data = [{"type": "model", "id": i, "display_name": i, "created_at": _EPOCH} for i in ids]
    return {
        "data": data,
        "has_more": False,
        "first_id": ids[0] if ids else None,
        "last_id": ids[-1] if ids else None,
    }


def estimate_tokens(turn: ResponsesRequest) -> int:
    """A documented estimate, since Chat Completions providers have no token counter.

    About four characters per token for ASCII text (English and code) and one per token for
    anything else (CJK text tokenises near one character each), over the instructions, every
    input item and the tool declarations, as JSON.
    """
    text = json.dumps([turn.instructions or "", turn.input_items, turn.tools], ensure_ascii=False)
    ascii_chars = sum(1 for ch in text if ch < "\x80")
    return math.ceil(ascii_chars / 4) + (len(text) - ascii_chars)
