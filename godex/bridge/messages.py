"""Responses input items → Chat Completions messages.

Consecutive calls join one assistant message with several ``tool_calls``; their outputs follow
as ``tool`` messages. Reasoning items attach to the next assistant message as
``reasoning_content`` for providers whose spec replays it. Roles the provider lacks are merged
(developer → system; a late system message → the leading one when the spec wants one system).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from godex.bridge import items
from godex.bridge.diagnostics import Diagnostics
from godex.bridge.files import file_part_text
from godex.bridge.items import reasoning
from godex.bridge.items.tool_search_call import loaded_tools
from godex.bridge.sealing import Sealer
from godex.errors import NO_WIRE_CODE, InvalidRequestError
from godex.providers.spec import ProviderSpec

# Outputs OpenAI refuses without their call anywhere in the conversation.
_STRICT_OUTPUTS = ("function_call_output", "custom_tool_call_output")

Resolver = Callable[[str], dict[str, Any] | None]


class MessageBuilder:
    def __init__(
        self,
        spec: ProviderSpec,
        sealer: Sealer,
        diags: Diagnostics,
        upstream_names: dict[tuple[str | None, str], str],
        resolve: Resolver | None,
    ) -> None:
        self.spec = spec
        self.sealer = sealer
        self.diags = diags
        self.names = upstream_names
        self.resolve = resolve
        self.messages: list[dict[str, Any]] = []
        self._reasoning: list[str] = []
        self._open_calls: dict[str, dict[str, Any]] = {}  # call_id -> assistant message
        self._answered: set[str] = set()
        self._seen_calls: set[str] = set()
        self._deferred_images: list[dict[str, Any]] = []
        self.has_reasoning = False
        self.tool_turn_without_reasoning = False

    # -- content ---------------------------------------------------------------------------
    def _parts(self, content: Any, where: str) -> str | list[dict[str, Any]]:
        if isinstance(content, str):
            return content
        texts: list[dict[str, Any]] = []
        has_image = False
        for part in content or []:
            kind = part.get("type")
            if kind in ("input_text", "output_text", "text", "summary_text", "reasoning_text"):
                texts.append({"type": "text", "text": part.get("text") or ""})
            elif kind == "refusal":
                texts.append({"type": "text", "text": part.get("refusal") or ""})
            elif kind == "input_image":
                url = part.get("image_url")
                if self.spec.accepts_images and isinstance(url, str) and url:
                    image: dict[str, Any] = {"url": url}
                    if part.get("detail") in ("low", "high", "auto"):
                        image["detail"] = part["detail"]
                    texts.append({"type": "image_url", "image_url": image})
                    has_image = True
                else:
                    self.diags.add(
                        "ignored", where, f"{self.spec.name} does not accept images; image dropped"
                    )
            elif kind == "input_file":
                texts.append({"type": "text", "text": self._file(part, where)})
            else:
                self.diags.add("ignored", where, f"content part {kind!r} dropped")
        if has_image:
            return texts
        return "\n".join(p["text"] for p in texts)

    # -- items -----------------------------------------------------------------------------
    def add(self, item: dict[str, Any], where: str) -> None:
        kind = item.get("type")
        if kind == "message":
            self._message(item, where)
        elif kind in items.BY_CALL_ITEM:
            self._call(item, where)
        elif kind in items.BY_OUTPUT_ITEM:
            self._output(item, where)
        elif kind == reasoning.KIND:
            text = reasoning.text_of(item, self.sealer, self.diags)
            if text:
                self._reasoning.append(text)
        elif kind == "item_reference":
            ref = self.resolve(item["id"]) if self.resolve else None
            if ref is None and where == "history":
                # Stored references were renumbered when stored; the item they named was
                # already sent in full on that turn.
                self.diags.add("ignored", where, "a stored item_reference was skipped")
            elif ref is None:
                raise unknown_reference(str(item["id"]))
            elif ref.get("type") != "item_reference":
                self.add(ref, where)
        elif kind in ("additional_tools", "compaction_trigger"):
            pass  # tool definitions were declared already; triggers are handled upstream of here
        else:
            self.diags.add("ignored", where, f"input item type {kind!r} has no chat equivalent")

    def _flush_images(self) -> None:
        if self._deferred_images:
            self.messages.append({"role": "user", "content": self._deferred_images})
            self._deferred_images = []

    def _message(self, item: dict[str, Any], where: str) -> None:
        self._close_tool_block()
        role = item["role"]
        content = self._parts(item.get("content"), f"{where}.content")
        if role == "assistant":
            msg: dict[str, Any] = {"role": "assistant", "content": _as_text(content)}
            self._attach_reasoning(msg)
            self.messages.append(msg)
            return
        if role == "developer" and not self.spec.developer_role:
            role = "system"
        if role in ("system", "developer"):
            content = _as_text(content)
            self._system(role, content)
            return
        self.messages.append({"role": "user", "content": content})

    def _system(self, role: str, content: str) -> None:
        prev = self.messages[-1] if self.messages else None
        # Adjacent system messages merge: several providers want exactly one up front.
        if prev is not None and prev["role"] == role and not prev.get("tool_calls"):
            prev["content"] = f"{prev['content']}\n\n{content}"
            return
        if not self.spec.system_anywhere and self.messages:
            first = self.messages[0]
            if first["role"] == "system":
                first["content"] = f"{first['content']}\n\n{content}"
            else:
                self.messages.insert(0, {"role": "system", "content": content})
            self.diags.add("degraded", "input", "a later system message was merged into the first")
            return
        self.messages.append({"role": role, "content": content})

    def _attach_reasoning(self, msg: dict[str, Any]) -> None:
        if self._reasoning:
            self.has_reasoning = True
            if self.spec.replay_reasoning:
                msg["reasoning_content"] = "\n".join(self._reasoning)
            self._reasoning = []

    def _call(self, item: dict[str, Any], where: str) -> None:
        call_id = item.get("call_id") or item.get("id") or ""
        namespace = item.get("namespace")
        name, arguments = items.BY_CALL_ITEM[item["type"]].history_call(item)
        upstream = self.names.get((namespace, name))
        if upstream is None:
            upstream = f"{namespace}__{name}" if namespace else name
        call = {
            "id": call_id,
            "type": "function",
            "function": {"name": upstream, "arguments": arguments},
        }
        prev = self.messages[-1] if self.messages else None
        # Consecutive calls (parallel) share one assistant message, as do text then calls.
        if (
            prev is not None
            and prev["role"] == "assistant"
            and not self._reasoning
            and not any(cid in self._answered for cid in self._calls_of(prev))
        ):
            prev.setdefault("tool_calls", []).append(call)
            if not prev.get("content"):
                prev["content"] = ""
        else:
            self._close_tool_block()
            prev = {"role": "assistant", "content": "", "tool_calls": [call]}
            self._attach_reasoning(prev)
            self.messages.append(prev)
        if "reasoning_content" not in prev:
            self.tool_turn_without_reasoning = True
        self._open_calls[call_id] = prev
        self._seen_calls.add(call_id)

    @staticmethod
    def _calls_of(msg: dict[str, Any]) -> list[str]:
        return [c["id"] for c in msg.get("tool_calls") or []]

    def _output(self, item: dict[str, Any], where: str) -> None:
        kind = item["type"]
        call_id = items.BY_OUTPUT_ITEM[kind].output_call_id(item)
        if not isinstance(call_id, str) or call_id not in self._open_calls:
            alt = item.get("call_id")
            if isinstance(alt, str) and alt in self._open_calls:
                call_id = alt
        output = item.get("output")
        if kind == "tool_search_output":
            names = [t.get("name") for t in loaded_tools(item)]
            text = "Tools loaded: " + ", ".join(str(n) for n in names if n)
        elif isinstance(output, list):
            text = self._tool_output_parts(output, where)
        else:
            text = "" if output is None else str(output)
        if (
            kind in _STRICT_OUTPUTS
            and isinstance(call_id, str)
            and call_id not in self._seen_calls
            and item.get("call_id") not in self._seen_calls
        ):
            # OpenAI's answer, word for word: clients and agents key their recovery on it.
            raise InvalidRequestError(
                f"No tool call found for function call output with call_id {call_id}.",
                code="bridge.orphaned_tool_output",
                param="input",
                wire_code=NO_WIRE_CODE,
            )
        if not isinstance(call_id, str) or call_id not in self._open_calls:
            self.diags.add(
                "degraded", where, "tool output without a matching call sent as user text"
            )
            self._close_tool_block()
            self.messages.append({"role": "user", "content": f"Tool output ({call_id}):\n{text}"})
            return
        self._answered.add(call_id)
        self.messages.append({"role": "tool", "tool_call_id": call_id, "content": text})

    def _tool_output_parts(self, parts: list[Any], where: str) -> str:
        texts: list[str] = []
        for part in parts:
            if not isinstance(part, dict):
                continue
            kind = part.get("type")
            if kind in ("input_text", "output_text", "text"):
                texts.append(part.get("text") or "")
            elif kind == "input_image":
                url = part.get("image_url")
                if self.spec.accepts_images and isinstance(url, str) and url:
                    # Tool messages can't hold images on chat APIs: the image follows as a
                    # user message once the block of tool results is complete.
                    self._deferred_images.append({"type": "image_url", "image_url": {"url": url}})
                    texts.append("[image attached in the next message]")
                else:
                    texts.append("[image omitted: the model cannot view images]")
                    self.diags.add("ignored", where, f"{self.spec.name} does not accept images")
            elif kind == "input_file":
                texts.append(self._file(part, where))
            else:
                texts.append(f"[{kind} omitted]")
        return "\n".join(texts)

    def _file(self, part: dict[str, Any], where: str) -> str:
        found = file_part_text(part, where)
        self.diags.add(
            "degraded",
            where,
            f"{self.spec.name} takes no files: input_file '{found.filename}' "
            f"({found.media_type}) sent as its text",
        )
        return found.as_prompt()

    def _close_tool_block(self) -> None:
        """Every call must have an answer before the conversation moves on."""
        for call_id, msg in list(self._open_calls.items()):
            if call_id not in self._answered:
                idx = self.messages.index(msg)
                # Insert after the calls' existing answers, keeping the tool block contiguous.
                j = idx + 1
                while j < len(self.messages) and self.messages[j]["role"] == "tool":
                    j += 1
                self.messages.insert(
                    j, {"role": "tool", "tool_call_id": call_id, "content": "(no output recorded)"}
                )
                self.diags.add(
                    "degraded", "input", f"call {call_id} had no output; placeholder sent"
                )
                self._answered.add(call_id)
        self._open_calls.clear()
        self._flush_images()

    def finish(self) -> list[dict[str, Any]]:
        self._close_tool_block()
        if self._reasoning:
            self._reasoning = []  # reasoning with no assistant message after it: nothing to attach
        return self.messages


def unknown_reference(item_id: str) -> InvalidRequestError:
    return InvalidRequestError(
        f"Item with id '{item_id}' not found.",
        code="bridge.item_reference_not_found",
        param="input",
        wire_code=NO_WIRE_CODE,
    )


def _as_text(content: str | list[dict[str, Any]]) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(p.get("text", "") for p in content if p.get("type") == "text")
