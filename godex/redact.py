"""Scrub credentials out of text that came from elsewhere (upstream error messages above all).

Providers echo the key they were sent ("Incorrect API key provided: sk-..."); such text reaches
clients, logs and the trace database, so it is scrubbed once, where provider errors are built.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "[redacted]"

# Secret-shaped tokens: "sk-..."-style keys (also "sk-proj-..."), a bearer token, and a long
# opaque token (hex, base64, JWT) right after a word like "key" or "token". Only the token is
# replaced; the lead-in ("API key provided: ") stays so the message still reads.
_PATTERNS = re.compile(
    r"(?P<lead>)\b(?:sk|pk|rk|ak)-[A-Za-z0-9_\-*]{6,}"
    r"|(?P<lead2>\bbearer\s+)[A-Za-z0-9_\-.~+/=*]{4,}"
    r"|(?P<lead3>(?:key|token|secret|password)[\"']?\s*(?:[:=]|is|provided:?)?\s*[\"']?)"
    r"[A-Za-z0-9_\-.+/=*]{16,}",
    re.IGNORECASE,
)
_MIN_SECRET = 4  # shorter "secrets" would scrub ordinary words


def scrub(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with every known secret and every credential-shaped token replaced."""
    for secret in secrets:
        if secret and len(secret) >= _MIN_SECRET and secret in text:
            text = text.replace(secret, REDACTED)
    return _PATTERNS.sub(_replace, text)


def _replace(m: re.Match[str]) -> str:
    return (m.group("lead2") or m.group("lead3") or "") + REDACTED
