"""Upstream error bodies → typed ``provider.*`` errors, for every provider's body shapes.

Statuses follow what clients act on (Codex retries 401/429/5xx, never 400): a request that will
never succeed (context too long, no balance, bad parameters) is a 400; a rate limit stays a 429
with its ``retry-after``; the gateway's own key being refused is a 502 (``provider.auth``); other
upstream failures are 502.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from godex.errors import ProviderError
from godex.redact import scrub

_MINIMAX_CODE = re.compile(r"\((\d{4})\)\s*$")
_CONTEXT = re.compile(
    r"context[ _-]?(length|window)|maximum context|too long|prompt is too long|token limit|"
    r"超长|model_context_window_exceeded|context size|range of input length",
    re.I,
)
_QUOTA = re.compile(r"insufficient (balance|account|quota|funds)|余额不足|quota .*exhausted", re.I)


@dataclass(frozen=True, slots=True)
class Classified:
    code: str  # provider.*
    status: int  # what the client gets


def _by_business_code(code: str) -> Classified | None:
    """Zhipu business codes and MiniMax (NNNN) codes."""
    table = {
        # Zhipu
        "1113": Classified("provider.insufficient_quota", 400),
        "1261": Classified("provider.context_length_exceeded", 400),
        "1301": Classified("provider.content_filter", 400),
        "1302": Classified("provider.rate_limited", 429),
        "1303": Classified("provider.rate_limited", 429),
        "1304": Classified("provider.insufficient_quota", 400),
        "1305": Classified("provider.overloaded", 502),
        "1308": Classified("provider.insufficient_quota", 400),
        "1310": Classified("provider.insufficient_quota", 400),
        "1312": Classified("provider.overloaded", 502),
        # MiniMax
        "1004": Classified("provider.auth", 502),
        "2049": Classified("provider.auth", 502),
        "1008": Classified("provider.insufficient_quota", 400),
        "1002": Classified("provider.rate_limited", 429),
        "1039": Classified("provider.context_length_exceeded", 400),
        "1027": Classified("provider.content_filter", 400),
        "2013": Classified("provider.invalid_request", 400),
        "1000": Classified("provider.upstream_error", 502),
        "1001": Classified("provider.timeout", 504),
        "1013": Classified("provider.upstream_error", 502),
    }
    return table.get(code)


def classify(status: int, message: str, business_code: str | None) -> Classified:
    if business_code is not None and len(business_code) == 3:
        # MiMo puts the HTTP status in error.code, also inside 200 streams.
        status, business_code = int(business_code), None
    if status in (401, 403):
        # Zhipu's 1000-1005 ride on a 401; the status decides before codes that clash.
        return Classified("provider.auth", 502)
    if business_code:
        found = _by_business_code(business_code)
        if found is not None:
            return found
    if _CONTEXT.search(message):
        return Classified("provider.context_length_exceeded", 400)
    if status == 402 or _QUOTA.search(message):
        return Classified("provider.insufficient_quota", 400)
    if status in (401, 403):
        return Classified("provider.auth", 502)
    if status == 429:
        return Classified("provider.rate_limited", 429)
    if status == 408 or status == 504:
        return Classified("provider.timeout", 504)
    if 400 <= status < 500:
        return Classified("provider.invalid_request", 400)
    if status == 503:
        return Classified("provider.overloaded", 502)
    return Classified("provider.upstream_error", 502)


def parse_error_body(body: bytes, secrets: Iterable[str | None] = ()) -> tuple[str, str | None]:
    """(message, business code) from any known error body; the raw text if none matches.

    The message is scrubbed of credentials (``secrets`` and anything key-shaped): providers echo
    the key they were sent, and this text reaches clients, logs and the trace database.
    """
    text = body.decode("utf-8", "replace").strip()
    if text.startswith("data:"):
        text = text[5:].strip()  # MiMo sends errors as an SSE line, even on HTTP errors
    try:
        obj: Any = json.loads(text) if text else None
    except ValueError:
        obj = None
    if isinstance(obj, dict):
        return error_fields(obj, secrets) or (scrub(text[:500], secrets), None)
    return scrub(text[:500], secrets) or "(empty body)", None


def error_fields(
    obj: Mapping[str, Any], secrets: Iterable[str | None] = ()
) -> tuple[str, str | None] | None:
    """Message (scrubbed of credentials) and business code of an error object, or None if
    ``obj`` is not an error."""
    found = _error_fields(obj)
    if found is None:
        return None
    return scrub(found[0], secrets), found[1]


def _error_fields(obj: Mapping[str, Any]) -> tuple[str, str | None] | None:
    err = obj.get("error")
    if isinstance(err, dict):
        message = str(err.get("message") or err.get("msg") or err.get("type") or "error")
        param = err.get("param")
        if isinstance(param, str) and param and param not in message:
            message = f"{message} ({param})" if len(param) < 300 else message
        code = err.get("code")
        business = str(code) if code is not None and str(code).isdigit() else None
        m = _MINIMAX_CODE.search(message)
        if m:
            business = m.group(1)
        return message, business
    if isinstance(err, str) and err:
        return err, None
    if obj.get("object") == "error" and isinstance(obj.get("message"), str):
        # vLLM before 0.11 and SGLang: the error fields at top level, code = HTTP status.
        code = obj.get("code")
        return obj["message"], str(code) if isinstance(code, int) else None
    base = obj.get("base_resp")
    if isinstance(base, dict) and base.get("status_code") not in (0, None, "0"):
        message = str(base.get("status_msg") or "error")
        return message, str(base.get("status_code"))
    return None


def named_code(body: bytes) -> str | None:
    """The error name in an HTTP error body (see ``error_name``)."""
    try:
        obj: Any = json.loads(body.decode("utf-8", "replace").strip().removeprefix("data:"))
    except ValueError:
        return None
    return error_name(obj) if isinstance(obj, dict) else None


def error_name(obj: Mapping[str, Any]) -> str | None:
    """A provider's error name: ``error.code`` when it is not a number, else ``error.type``."""
    err = obj.get("error")
    if not isinstance(err, dict):
        return None
    for key in ("code", "type"):
        value = err.get(key)
        if isinstance(value, str) and value and not value.isdigit():
            return value
    return None


def lookup(table: Mapping[str, Classified], name: str | None) -> Classified | None:
    """``name`` in ``table``, also by its dotted prefix (Ark: ``RateLimitExceeded.EndpointRPM``)."""
    if not name:
        return None
    return table.get(name) or table.get(name.split(".", 1)[0])


def error_from_http(
    provider: str,
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    names: Mapping[str, Classified] | None = None,
    secrets: Iterable[str | None] = (),
) -> ProviderError:
    """``names``: the provider's own error names, which decide before the generic rules; pass
    the provider's configured key in ``secrets`` so an upstream echo of it never reaches the
    client."""
    secrets = tuple(secrets)
    message, business = parse_error_body(body, secrets)
    found = (lookup(names, named_code(body)) if names else None) or classify(
        status, message, business
    )
    extra: dict[str, str] = {}
    retry_after = headers.get("retry-after") or headers.get("Retry-After")
    if found.status == 429 and retry_after:
        extra["retry-after"] = retry_after
    suffix = f" (HTTP {status}" + (f", code {business})" if business else ")")
    text = f"{provider}: {message}{suffix}"
    kind: str | None = "invalid_request_error" if found.status == 400 else None
    if found.status == 429:
        text, kind = rate_limit_message(text, retry_after), rate_limit_type(message)
    return ProviderError(
        text,
        code=found.code,
        status=found.status,
        upstream_message=message,
        headers=extra,
        type=kind,
    )


_TRY_AGAIN = re.compile(r"try again in\s+\d", re.I)
_TOKENS = re.compile(r"\btokens?\b|\bTPM\b|\bTPD\b", re.I)


def rate_limit_type(message: str) -> str:
    """OpenAI's 429 ``type``: ``tokens`` when the token budget ran out, else ``requests``."""
    return "tokens" if _TOKENS.search(message) else "requests"


def rate_limit_message(message: str, retry_after: str | None) -> str:
    """The message with OpenAI's "Please try again in Ns." sentence, which Codex and other
    clients parse for their wait, built from ``retry-after`` (seconds or an HTTP date)."""
    if _TRY_AGAIN.search(message):
        return message
    seconds = retry_after_seconds(retry_after)
    if seconds is None:
        return message
    shown = f"{seconds:.3f}".rstrip("0").rstrip(".")
    return f"{message.rstrip()} Please try again in {shown}s."


def retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from datetime import UTC, datetime
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
