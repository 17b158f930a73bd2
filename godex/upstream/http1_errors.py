"""What can go wrong on the built-in HTTP/1.1 client, and the one place it becomes typed.

The connection and the pool only record what happened (a bound that fired, an OS, TLS, parser
or zlib error); ``translate`` turns it into the ``ProviderError`` the layers above act on, with
the codes and messages the aiohttp transport used (they are the contract: tests, dashboards and
retry rules key on them). Request headers never reach a message: they carry API keys.
"""

from __future__ import annotations

import zlib
from typing import Literal

import httptools

from godex.errors import GodexError, ProviderError, UpstreamTimeout
from godex.upstream.transport import Timeouts

Phase = Literal["open", "body", "stream"]
Bound = Literal["connect", "first_byte", "deadline", "idle"]


class BoundExceeded(Exception):
    """One of the exchange's time bounds fired; ``bound`` names which."""

    def __init__(self, bound: Bound) -> None:
        super().__init__(bound)
        self.bound: Bound = bound


class ConnectFailed(Exception):
    """DNS, TCP or TLS set-up failed (``__cause__`` says how): nothing was sent."""


class StaleConnection(Exception):
    """A reused keep-alive connection ended before any byte of the answer: the server closed
    it while it sat idle. The request is sent again once, on a new connection."""


class Closed(ConnectionResetError):
    """The upstream closed the connection before the answer was complete."""


# What the client expects to meet; anything else is a bug and propagates as it is.
EXPECTED: tuple[type[BaseException], ...] = (
    OSError,  # socket, TLS (ssl.SSLError) and Closed
    BoundExceeded,
    ConnectFailed,
    StaleConnection,
    httptools.HttpParserError,
    zlib.error,
)


def translate(exc: BaseException, label: str, url: str, phase: Phase, t: Timeouts) -> GodexError:
    """The typed error for ``exc`` met in ``phase``; a GodexError passes through unchanged."""
    if isinstance(exc, GodexError):
        return exc
    if isinstance(exc, BoundExceeded):
        if exc.bound == "connect":
            return UpstreamTimeout(
                f"{label}: could not connect to the upstream within {t.connect_ms} ms "
                "(connect_timeout_ms)",
                code="provider.connect_timeout",
            )
        if exc.bound == "idle":
            return UpstreamTimeout(
                f"{label}: upstream sent nothing for {t.idle_ms} ms (idle_timeout_ms)",
                code="provider.idle_timeout",
            )
        if exc.bound == "deadline":
            return UpstreamTimeout(
                f"{label}: the upstream exchange took longer than {t.total_ms} ms (timeout_ms)",
                code="provider.deadline_exceeded",
            )
        return UpstreamTimeout(
            f"{label}: no response from the upstream within {t.first_byte_ms} ms "
            "(first_byte_timeout_ms)",
            code="provider.timeout",
        )
    if isinstance(exc, ConnectFailed):
        return ProviderError(
            f"{label}: cannot connect to {url}: {exc.__cause__ or exc}",
            code="provider.connect_failed",
        )
    # A malformed answer is the upstream's fault, not a broken link: bad_response (still a 502,
    # so it is retried and fails over like any other transient upstream failure).
    if isinstance(exc, httptools.HttpParserError):
        return ProviderError(
            f"{label}: upstream sent a malformed HTTP response: {exc}",
            code="provider.bad_response",
        )
    if isinstance(exc, zlib.error):
        return ProviderError(
            f"{label}: upstream sent a body that does not decompress: {exc}",
            code="provider.bad_response",
        )
    code = "provider.stream_broken" if phase == "stream" else "provider.connection"
    what = {"open": "request failed", "body": "body broke", "stream": "stream broke"}[phase]
    return ProviderError(f"{label}: upstream {what}: {str(exc) or type(exc).__name__}", code=code)
