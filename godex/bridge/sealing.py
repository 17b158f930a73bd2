"""Authenticated opaque blobs for ``encrypted_content`` (reasoning, compaction).

Format: ``gdx1.<base64url(json)>.<base64url(hmac-sha256)>``. The MAC covers the version, the kind
and the payload, so a blob made for one purpose cannot be replayed as another. Content is signed,
not encrypted: it is the client's own conversation, and tampering is what must be prevented.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

_VERSION = "gdx1"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sealer:
    def __init__(self, secret: bytes) -> None:
        self._key = hashlib.sha256(b"godex-seal:" + secret).digest()

    def _mac(self, kind: str, body: str) -> bytes:
        msg = f"{_VERSION}.{kind}.{body}".encode()
        return hmac.new(self._key, msg, hashlib.sha256).digest()

    def seal(self, kind: str, payload: dict[str, Any]) -> str:
        body = _b64(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode())
        return f"{_VERSION}.{body}.{_b64(self._mac(kind, body))}"

    def open(self, kind: str, blob: object) -> dict[str, Any] | None:
        """The payload if ``blob`` is ours, intact and of this kind; otherwise None."""
        if not isinstance(blob, str) or not blob.startswith(_VERSION + "."):
            return None
        parts = blob.split(".")
        if len(parts) != 3:
            return None
        _, body, mac = parts
        try:
            if not hmac.compare_digest(_unb64(mac), self._mac(kind, body)):
                return None
            payload = json.loads(_unb64(body))
        except (ValueError, UnicodeDecodeError):
            return None
        return payload if isinstance(payload, dict) else None
