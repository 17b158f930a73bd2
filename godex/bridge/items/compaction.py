"""``compaction`` items: a sealed summary that stands in for the conversation before it."""

from __future__ import annotations

from typing import Any

from godex.bridge.sealing import Sealer
from godex.ids import new_id

KIND = "compaction"
ID_PREFIX = "cmp"


def item(sealer: Sealer, summary: str) -> dict[str, Any]:
    return {
        "type": KIND,
        "id": new_id(ID_PREFIX),
        "encrypted_content": sealer.seal(KIND, {"summary": summary}),
    }


def summary_of(item: dict[str, Any], sealer: Sealer) -> str | None:
    """The summary of a compaction item this gateway sealed; None for anyone else's."""
    payload = sealer.open(KIND, item.get("encrypted_content"))
    summary = payload.get("summary") if payload else None
    return summary if isinstance(summary, str) else None
