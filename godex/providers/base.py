"""The default hooks for a Chat Completions provider, and the stream normalizer they share.

Named providers subclass ``ChatHooks`` only where their protocol really differs; the parsing
rules below (providers.md §5) are safe for every provider, so they live here once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from godex.errors import ProviderError
from godex.protocol.deltas import (
    Delta,
    Finish,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    UpstreamError,
    Usage,
    WebSearchResult,
)
from godex.providers import errors
from godex.providers.spec import ChatRequest, ProviderSpec


def usage_from(u: Any) -> Usage | None:
    """The usage object if it is real (placeholders without prompt_tokens are skipped)."""
    if not isinstance(u, dict) or not isinstance(u.get("prompt_tokens"), int):
        return None
    prompt_details = u.get("prompt_tokens_details") or {}
    completion_details = u.get("completion_tokens_details") or {}
    cached = prompt_details.get("cached_tokens")
    if cached is None:
        cached = u.get("prompt_cache_hit_tokens")
    if cached is None:
        cached = u.get("cached_tokens")  # Moonshot: at the top level of usage
    total = u.get("total_tokens")
    return Usage(
        input_tokens=u["prompt_tokens"],
        output_tokens=int(u.get("completion_tokens") or 0),
        cached_tokens=int(cached or 0),
        reasoning_tokens=int(completion_details.get("reasoning_tokens") or 0),
        total_tokens=total if isinstance(total, int) and total > 0 else None,
    )


def _text(value: Any) -> str:
    """Content as text: a string, or an array of text parts (GLM-4V, DeepSeek)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(p.get("text", "") for p in value if isinstance(p, dict))
    return ""


class ThinkSplitter:
    """Separates inline ``<think>…</think>`` reasoning from answer text across chunk splits."""

    OPEN, CLOSE = "<think>", "</think>"

    def __init__(self) -> None:
        self._inside = False
        self._buf = ""
        self._seen_text = False

    def feed(self, text: str) -> list[Delta]:
        out: list[Delta] = []
        buf = self._buf + text
        self._buf = ""
        while buf:
            tag = self.CLOSE if self._inside else self.OPEN
            pos = buf.find(tag)
            if pos < 0:
                # Keep a possible partial tag at the end for the next chunk.
                keep = 0
                for n in range(min(len(tag) - 1, len(buf)), 0, -1):
                    if tag.startswith(buf[-n:]):
                        keep = n
                        break
                if not self._inside and not self._seen_text and keep == 0:
                    # A stray "</think>" with no opening tag (MiniMax M2.7) is dropped.
                    stray = buf.find(self.CLOSE)
                    if stray >= 0:
                        buf = buf[:stray] + buf[stray + len(self.CLOSE) :]
                emit, self._buf = (buf[:-keep], buf[-keep:]) if keep else (buf, "")
                self._emit(emit, out)
                break
            self._emit(buf[:pos], out)
            self._inside = not self._inside
            buf = buf[pos + len(tag) :]
            if not self._inside:
                buf = buf.lstrip("\n")
        return out

    def _emit(self, text: str, out: list[Delta]) -> None:
        if not text:
            return
        if self._inside:
            out.append(ReasoningDelta(text))
        else:
            if not self._seen_text and self.CLOSE in text:
                text = text.replace(self.CLOSE, "")
            if text:
                self._seen_text = True
                out.append(TextDelta(text))

    def flush(self) -> list[Delta]:
        rest, self._buf = self._buf, ""
        if not rest:
            return []
        return [ReasoningDelta(rest)] if self._inside else [TextDelta(rest)]


class StreamNormalizer:
    """One upstream stream → neutral deltas, tolerant of every known provider quirk."""

    def __init__(self, spec: ProviderSpec, hooks: ChatHooks) -> None:
        self.spec = spec
        self.hooks = hooks
        self._args: dict[int, str] = {}
        self._ids: dict[str, int] = {}
        self._details: dict[str, str] = {}
        self._think = ThinkSplitter() if hooks.think_tags else None
        self._finished = False
        self._searched = False
        self._next_index = 0

    def feed(self, obj: dict[str, Any]) -> list[Delta]:
        fast = self._plain_text(obj)
        if fast is not None:
            return fast
        if "error" in obj or "base_resp" in obj:
            err = errors.error_fields(obj)
            if err is not None:
                return [self.hooks.stream_error(self.spec, err[0], err[1], errors.error_name(obj))]
        out: list[Delta] = []
        choices = obj.get("choices")
        terminal = obj.get("object") == "chat.completion"
        for choice in choices if isinstance(choices, list) else []:
            if not isinstance(choice, dict):
                continue
            if terminal or ("message" in choice and "delta" not in choice):
                # A whole-message frame after the deltas (MiniMax): only finish/usage count.
                if not self._finished and choice.get("finish_reason"):
                    out.append(Finish(choice["finish_reason"]))
                    self._finished = True
                continue
            delta = choice.get("delta")
            if isinstance(delta, dict):
                self._delta(delta, out)
            reason = choice.get("finish_reason")
            if reason and not self._finished:
                out += self.flush_think()
                out.append(Finish(reason))
                self._finished = True
        if "web_search" in obj:
            self._search(obj, out)
        raw_usage = obj.get("usage")
        if raw_usage:
            usage = usage_from(raw_usage)
            if usage is not None:
                out.append(usage)
        return out

    def _plain_text(self, obj: dict[str, Any]) -> list[Delta] | None:
        """Most chunks of a stream: one choice whose delta is text (and maybe a role), no
        finish, no usage, nothing else to read. Answered without the general walk below; None
        for anything else."""
        content = self.plain_content(obj)
        if content is None:
            return None
        return [TextDelta(content)] if content else []

    @property
    def takes_text_frames(self) -> bool:
        """Whether a plain text chunk (``plain_content``) always means just ``TextDelta(its
        text)`` and changes nothing here, so a run of them may be read by their frame
        (``upstream/text_frames``) without passing through ``feed``."""
        return self._think is None and type(self).feed is StreamNormalizer.feed

    def plain_content(self, obj: dict[str, Any]) -> str | None:
        """The text of a plain text chunk; None for any other chunk."""
        choices = obj.get("choices")
        if type(choices) is not list or len(choices) != 1 or self._think is not None:
            return None
        choice = choices[0]
        if type(choice) is not dict or choice.get("finish_reason") or "message" in choice:
            return None
        delta = choice.get("delta")
        if type(delta) is not dict:
            return None
        content = delta.get("content")
        if type(content) is not str or not (
            len(delta) == 1 or (len(delta) == 2 and "role" in delta)
        ):
            return None
        if (
            obj.get("usage")
            or obj.get("object") == "chat.completion"
            or "error" in obj
            or "base_resp" in obj
            or "web_search" in obj
        ):
            return None
        return content

    def _search(self, obj: dict[str, Any], out: list[Delta]) -> None:
        results = obj.get("web_search")
        if isinstance(results, list) and results and not self._searched:
            self._searched = True
            out.append(WebSearchResult(sources=_sources(results)))

    def _delta(self, delta: dict[str, Any], out: list[Delta]) -> None:
        content = delta.get("content")
        if (
            type(content) is str
            and self._think is None
            and (len(delta) == 1 or (len(delta) == 2 and "role" in delta))
        ):
            # The common chunk, {"content": …} with at most a role: nothing else to read.
            if content:
                out.append(TextDelta(content))
            return
        reasoning = delta.get("reasoning_content")
        if isinstance(reasoning, str) and reasoning:
            out.append(ReasoningDelta(reasoning))
        details = delta.get("reasoning_details")
        if isinstance(details, list):
            for d in details:
                if isinstance(d, dict) and isinstance(d.get("text"), str):
                    piece = self._detail_piece(str(d.get("id") or d.get("index") or 0), d["text"])
                    if piece:
                        out.append(ReasoningDelta(piece))
        content = _text(delta.get("content"))
        if content:
            if self._think is not None:
                out += self._think.feed(content)
            else:
                out.append(TextDelta(content))
        calls = delta.get("tool_calls")
        if isinstance(calls, list):
            for pos, call in enumerate(calls):
                if isinstance(call, dict):
                    out.append(self._call(call, pos))

    def _detail_piece(self, key: str, text: str) -> str:
        """reasoning_details may be incremental or cumulative: take only what is new."""
        seen = self._details.get(key, "")
        if seen and text.startswith(seen):
            self._details[key] = text
            return text[len(seen) :]
        self._details[key] = seen + text
        return text

    def _call(self, call: dict[str, Any], pos: int) -> ToolCallDelta:
        fn = call.get("function") if isinstance(call.get("function"), dict) else {}
        assert isinstance(fn, dict)
        call_id = call.get("id") if isinstance(call.get("id"), str) and call.get("id") else None
        index = call.get("index")
        if not isinstance(index, int):
            # No index: key by id, else by position in this delta.
            if call_id is not None and call_id in self._ids:
                index = self._ids[call_id]
            elif call_id is not None:
                index = self._next_index
            else:
                index = pos
        if call_id is not None:
            self._ids.setdefault(call_id, index)
        self._next_index = max(self._next_index, index + 1)
        fragment = fn.get("arguments")
        if isinstance(fragment, (dict, list)):
            fragment = json.dumps(fragment, ensure_ascii=False)
        fragment = fragment if isinstance(fragment, str) else ""
        buffered = self._args.get(index, "")
        if self.hooks.snapshot_tool_calls and buffered and fragment:
            # Providers that resend the whole argument snapshot: keep only what is new.
            if fragment == buffered:
                fragment = ""
            elif len(fragment) > len(buffered) and fragment.startswith(buffered):
                fragment = fragment[len(buffered) :]
        self._args[index] = buffered + fragment
        name = fn.get("name") if isinstance(fn.get("name"), str) and fn.get("name") else None
        return ToolCallDelta(index=index, id=call_id, name=name, arguments=fragment)

    def flush_think(self) -> list[Delta]:
        return self._think.flush() if self._think is not None else []

    def finish(self) -> list[Delta]:
        return self.flush_think()


def _sources(results: list[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for r in results:
        if isinstance(r, dict):
            url = r.get("link") or r.get("url")
            if url:
                out.append({"type": "url", "url": url, "title": r.get("title")})
    return out


class ChatHooks:
    """Standard OpenAI Chat Completions behaviour; subclasses override protocol differences."""

    think_tags = False  # reasoning arrives inline as <think>…</think>
    snapshot_tool_calls = False  # argument fragments may repeat the whole buffer
    # The provider's own error names (error.code / error.type) -> classification; they
    # decide before the generic status and message rules, in HTTP errors and in streams.
    error_names: Mapping[str, errors.Classified] = {}

    def auth_headers(self, spec: ProviderSpec, api_key: str) -> dict[str, str]:
        if spec.auth_scheme == "api-key":
            return {"api-key": api_key}
        return {"authorization": f"Bearer {api_key}"}

    def patch_request(self, spec: ProviderSpec, req: ChatRequest) -> None:
        """Standard fields need nothing; providers add their thinking switches."""

    def stream_normalizer(self, spec: ProviderSpec) -> StreamNormalizer:
        return StreamNormalizer(spec, self)

    def normalize_body(self, spec: ProviderSpec, body: dict[str, Any]) -> list[Delta]:
        err = errors.error_fields(body)
        if err is not None:
            return [self.stream_error(spec, err[0], err[1], errors.error_name(body))]
        out: list[Delta] = []
        splitter = ThinkSplitter() if self.think_tags else None
        for choice in body.get("choices") or []:
            if not isinstance(choice, dict):
                continue
            msg = choice.get("message") or {}
            reasoning = msg.get("reasoning_content")
            if isinstance(reasoning, str) and reasoning:
                out.append(ReasoningDelta(reasoning))
            elif isinstance(msg.get("reasoning_details"), list):
                text = "".join(
                    d.get("text", "") for d in msg["reasoning_details"] if isinstance(d, dict)
                )
                if text:
                    out.append(ReasoningDelta(text))
            annotations = msg.get("annotations")
            if isinstance(annotations, list):
                cites = [a.get("url_citation") or a for a in annotations if isinstance(a, dict)]
                sources = _sources(cites)
                if sources:
                    out.append(WebSearchResult(sources=sources))
            content = _text(msg.get("content"))
            if content:
                if splitter is not None:
                    out += splitter.feed(content)
                    out += splitter.flush()
                else:
                    out.append(TextDelta(content))
            for pos, call in enumerate(msg.get("tool_calls") or []):
                fn = call.get("function") or {}
                args = fn.get("arguments")
                if isinstance(args, (dict, list)):
                    args = json.dumps(args, ensure_ascii=False)
                out.append(
                    ToolCallDelta(
                        index=call.get("index", pos) if isinstance(call.get("index"), int) else pos,
                        id=call.get("id") or None,
                        name=fn.get("name") or None,
                        arguments=args if isinstance(args, str) else "",
                    )
                )
            out.append(Finish(choice.get("finish_reason") or "stop"))
            break  # n=1: the first choice is the answer
        if isinstance(body.get("web_search"), list) and body["web_search"]:
            out.insert(0, WebSearchResult(sources=_sources(body["web_search"])))
        usage = usage_from(body.get("usage"))
        if usage is not None:
            out.append(usage)
        return out

    def stream_error(
        self, spec: ProviderSpec, message: str, business: str | None, name: str | None = None
    ) -> UpstreamError:
        found = errors.lookup(self.error_names, name) or errors.classify(200, message, business)
        return UpstreamError(
            found.code, f"{spec.display_name or spec.name}: {message}", found.status
        )

    def error_from_http(
        self, spec: ProviderSpec, status: int, body: bytes, headers: Mapping[str, str]
    ) -> ProviderError:
        return errors.error_from_http(
            spec.display_name or spec.name, status, body, headers, self.error_names
        )


# For providers whose thinking is a switch: effort "none"/"minimal" turns it off, any other
# effort turns it on (the value only needs to be non-None).
TOGGLE_EFFORT_MAP: dict[str, str | None] = {
    "none": None,
    "minimal": None,
    **{effort: "on" for effort in ("low", "medium", "high", "xhigh", "max", "ultra")},
}


# For providers with three effort levels: off for none/minimal, the top ones capped at "high".
THREE_LEVEL_EFFORT_MAP: dict[str, str | None] = {
    "none": None,
    "minimal": None,
    "low": "low",
    "medium": "medium",
    **{effort: "high" for effort in ("high", "xhigh", "max", "ultra")},
}


def set_thinking(req: ChatRequest, on: str = "enabled", off: str = "disabled") -> None:
    if req.thinking is not None:
        req.body["thinking"] = {"type": on if req.thinking else off}
