"""Typed errors. Every expected failure is a GodexError with a domain code.

The domain code (``bridge.invalid_request``, ``provider.auth`` ...) says where the failure belongs.
Clients see an OpenAI-shaped body; its ``code`` is the OpenAI code when clients act on one
(``previous_response_not_found``, ``context_length_exceeded`` ...) and the domain code otherwise.
"""

from __future__ import annotations

from typing import Any

# Domain codes whose failure clients act on get OpenAI's code on the wire (Codex stops retrying
# on context_length_exceeded and insufficient_quota; SDKs back off on rate_limit_exceeded).
WIRE_CODES: dict[str, str] = {
    "provider.insufficient_quota": "insufficient_quota",
    "provider.context_length_exceeded": "context_length_exceeded",
    "provider.rate_limited": "rate_limit_exceeded",
    "session.previous_response_not_found": "previous_response_not_found",
}

# ``wire_code=NO_WIRE_CODE``: OpenAI answers this failure with ``code: null`` (an orphaned tool
# output, an unknown item reference); clients see null, the domain code stays in godex_code.
NO_WIRE_CODE = ""


class GodexError(Exception):
    status: int = 500
    code: str = "server.internal"
    type: str = "server_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        param: str | None = None,
        type: str | None = None,
        wire_code: str | None = None,
        headers: dict[str, str] | None = None,
        upstream_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        if type is not None:
            self.type = type
        self.param = param
        self.wire_code = (
            wire_code if wire_code is not None else WIRE_CODES.get(self.code, self.code)
        )
        self.headers = headers or {}
        self.upstream_message = upstream_message

    def to_body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.wire_code or None,
                "godex_code": self.code,
            }
        }

    def to_response_error(self) -> dict[str, Any]:
        """The ``error`` object of a failed Response (``{code, message}``)."""
        return {"code": self.wire_code or self.code, "message": self.message}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r}, status={self.status})"


class ServerError(GodexError):
    status = 500
    code = "server.internal"
    type = "server_error"


class NotFoundError(GodexError):
    status = 404
    code = "server.not_found"
    type = "invalid_request_error"


class ConfigError(GodexError):
    status = 500
    code = "config.invalid"
    type = "server_error"


class AuthError(GodexError):
    status = 401
    code = "auth.invalid_key"
    type = "invalid_request_error"


class RateLimitError(GodexError):
    status = 429
    code = "auth.rate_limited"
    type = "requests"


class BridgeError(GodexError):
    status = 400
    code = "bridge.invalid_request"
    type = "invalid_request_error"


class InvalidRequestError(BridgeError):
    """Bad client input: always a 400 with ``param`` when a field is at fault."""


class OutputContractViolation(BridgeError):
    status = 502
    code = "bridge.output_contract_violation"
    type = "server_error"


class ProviderError(GodexError):
    status = 502
    code = "provider.error"
    type = "server_error"


class ProviderUnavailable(ProviderError):
    """The provider cannot be called at all (for example its API key variable is unset)."""

    status = 503
    code = "provider.unavailable"


class UpstreamTimeout(ProviderError):
    status = 504
    code = "provider.timeout"


class SessionError(GodexError):
    status = 400
    code = "session.invalid"
    type = "invalid_request_error"
