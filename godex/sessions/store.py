"""Stored responses: the record, the store protocol, and the helpers both backends share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from godex.ids import new_id

Order = Literal["asc", "desc"]

_PREFIX = {
    "message": "msg",
    "function_call": "fc",
    "function_call_output": "fco",
    "custom_tool_call": "ctc",
    "custom_tool_call_output": "ctco",
    "reasoning": "rs",
}


@dataclass(slots=True)
class StoredResponse:
    id: str
    previous_response_id: str | None
    created_at: int
    status: str
    model: str
    provider: str
    upstream_model: str
    input_items: list[dict[str, Any]]
    output_items: list[dict[str, Any]]
    response: dict[str, Any]
    usage: dict[str, Any] | None
    reasoning: dict[str, str]  # raw provider reasoning per reasoning item id
    # The response already encoded for the client, when there is one: stored as is, so a
    # stored response is serialised once, not twice.
    response_json: bytes | None = None
    # The builder log of a streamed response (JSON): its replay yields the events sent live.
    replay: bytes | None = None
    # Who may read it: "team:<team>" or "key:<name>"; None when made with client keys off.
    owner: str | None = None


@dataclass(slots=True)
class KeyRecord:
    """A runtime client key (made through the admin API): only its sha256 is kept."""

    name: str
    key_sha256: str
    team: str | None
    policy: dict[str, Any]  # {"models": [...], "limits": {...}, "budget": {...}}
    created_at: int
    revoked_at: int | None = None


def visible(rec: StoredResponse | None, owner: str | None) -> StoredResponse | None:
    """``rec`` if ``owner`` may see it (``owner`` None: every record, as admins do)."""
    if rec is None or (owner is not None and rec.owner != owner):
        return None
    return rec


@dataclass(slots=True)
class Conversation:
    id: str
    created_at: int
    metadata: dict[str, Any] = field(default_factory=dict)
    owner: str | None = None  # the key or team that made it (tenant isolation); not listed

    def to_object(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "conversation",
            "created_at": self.created_at,
            "metadata": self.metadata,
        }


class SessionStore(Protocol):
    """``owner`` scopes every read and delete: only records with that owner are found (the
    same None an unknown id gets); ``owner=None`` means all records (admin, or keys off)."""

    async def put(self, rec: StoredResponse) -> None: ...
    async def get(self, response_id: str, *, owner: str | None = None) -> StoredResponse | None: ...
    async def load_chain(
        self, response_id: str, max_depth: int, *, owner: str | None = None
    ) -> list[StoredResponse]:
        """``response_id`` and its ``previous_response_id`` ancestors, newest first, at most
        ``max_depth + 1`` of them, in one round trip where the backend can (it stops at a
        missing ancestor, another owner's record or a repeated id; the caller judges what the
        walk found)."""
        ...

    async def delete(self, response_id: str, *, owner: str | None = None) -> bool: ...
    async def list_input_items(
        self,
        response_id: str,
        *,
        after: str | None,
        limit: int,
        order: Order,
        owner: str | None = None,
    ) -> dict[str, Any] | None: ...
    # Runtime client keys (the admin API): a small table beside the responses.
    async def put_key(self, rec: KeyRecord) -> None: ...
    async def get_key(self, key_sha256: str) -> KeyRecord | None: ...
    async def list_keys(self) -> list[KeyRecord]: ...
    async def revoke_key(self, name: str, revoked_at: int) -> bool: ...
    async def find_items(
        self, item_ids: list[str], *, owner: str | None = None
    ) -> dict[str, dict[str, Any]]:
        """Stored input or output items by id, from any response ``owner`` may see
        (item_reference without ``previous_response_id``); ids not found are left out."""
        ...

    # -- conversations (the Conversations API) ------------------------------------------------
    async def create_conversation(
        self, conv: Conversation, items: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Store ``conv`` with its first items; the items as stored (with ids)."""
        ...

    async def get_conversation(self, conv_id: str) -> Conversation | None: ...
    async def update_conversation(
        self, conv_id: str, metadata: dict[str, Any]
    ) -> Conversation | None: ...
    async def delete_conversation(self, conv_id: str) -> bool: ...
    async def append_conversation_items(
        self, conv_id: str, items: list[dict[str, Any]]
    ) -> list[dict[str, Any]] | None:
        """Append ``items``; the items as stored, or None if the conversation is unknown."""
        ...

    async def conversation_items(self, conv_id: str) -> list[dict[str, Any]] | None:
        """Every item of the conversation, oldest first; None if it is unknown."""
        ...

    async def delete_conversation_item(self, conv_id: str, item_id: str) -> bool: ...

    async def prune(self, before_ts: int) -> int: ...
    async def count(self) -> int: ...
    async def lead(self, task: str, ttl_s: float) -> bool:
        """Whether this instance runs ``task`` (pruning) for the next ``ttl_s``: a shared
        store grants it to one instance at a time; a local one always does."""
        ...

    async def ping(self) -> bool:
        """The store answers now (what ``/health`` reports)."""
        ...

    async def close(self) -> None: ...


def with_ids(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Input items as stored: each gets an id so input_items can page over them."""
    out: list[dict[str, Any]] = []
    for item in items:
        if item.get("type") == "message" and isinstance(item.get("content"), str):
            # Listed the way OpenAI lists them: content as parts.
            kind = "output_text" if item.get("role") == "assistant" else "input_text"
            item = {**item, "content": [{"type": kind, "text": item["content"]}]}
        if not item.get("id") or item.get("type") == "item_reference":
            prefix = _PREFIX.get(str(item.get("type")), "item")
            item = {**item, "id": new_id(prefix)}
        out.append(item)
    return out


def pick_items(
    records: list[StoredResponse], wanted: set[str], found: dict[str, dict[str, Any]]
) -> None:
    """Into ``found``: the items of ``records`` whose id is wanted (outputs win over inputs)."""
    for rec in records:
        for item in (*rec.input_items, *rec.output_items):
            item_id = item.get("id")
            if item_id in wanted and item.get("type") != "item_reference":
                found[item_id] = item


def page(
    items: list[dict[str, Any]], after: str | None, limit: int, order: Order
) -> dict[str, Any]:
    ordered = items if order == "asc" else list(reversed(items))
    start = 0
    if after is not None:
        for i, item in enumerate(ordered):
            if item.get("id") == after:
                start = i + 1
                break
    data = ordered[start : start + limit]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": start + limit < len(ordered),
    }
