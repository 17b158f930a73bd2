"""Errors in Anthropic's shape, with the statuses Anthropic clients act on.

``{"type": "error", "error": {"type": ..., "message": ...}}``. Anthropic's SDKs (and so Claude
Code) retry 408, 409, 429 and 5xx and give up on other 4xx, so a GodeX status keeps its meaning;
only the ``type`` names change. A context overflow says "prompt is too long", the phrase Claude
Code looks for before it compacts the conversation.
"""

from __future__ import annotations

from typing import Any

from godex.errors import GodexError

_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    529: "overloaded_error",
}

_BY_WIRE_CODE = {
    "context_length_exceeded": "invalid_request_error",
    "insufficient_quota": "billing_error",
    "rate_limit_exceeded": "rate_limit_error",
}


def error_type(status: int) -> str:
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return "api_error" if status >= 500 else "invalid_request_error"


def error_type_for_code(code: str) -> str:
    """The type of a failure that happened mid-stream, where only the wire code is left."""
    if code in _BY_WIRE_CODE:
        return _BY_WIRE_CODE[code]
    if code.startswith(("bridge.", "invalid_")):
        return "invalid_request_error"
    if code.endswith("unavailable") or code == "server.shutting_down":
        return "overloaded_error"
    return "api_error"


def message_of(err: GodexError) -> str:
    if err.code == "provider.context_length_exceeded" or err.wire_code == "context_length_exceeded":
        return f"prompt is too long: {err.message}"
    return err.message


# Domain codes with an Anthropic status of their own (a used-up balance is Anthropic's 402,
# which its clients show at once instead of re-sending the request).
_BY_DOMAIN_CODE = {"provider.insufficient_quota": (402, "billing_error")}


def error_status_and_body(err: GodexError) -> tuple[int, dict[str, Any]]:
    status, kind = _BY_DOMAIN_CODE.get(err.code, (err.status, error_type(err.status)))
    return status, {"type": "error", "error": {"type": kind, "message": message_of(err)}}
