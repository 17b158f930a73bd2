"""JSON decoding of upstream payloads, tolerant of known server bugs."""

from __future__ import annotations

from typing import Any

import msgspec

from godex.errors import ProviderError

_decode = msgspec.json.Decoder().decode
_GLUE = b"data:"


def _objects(text: bytes) -> list[dict[str, Any]]:
    try:
        obj = _decode(text)
    except msgspec.DecodeError:
        return _split_concatenated(text)
    return [obj] if isinstance(obj, dict) else []


def _split_concatenated(text: bytes) -> list[dict[str, Any]]:
    """``{..}{..}``: several objects back to back in one payload."""
    out: list[dict[str, Any]] = []
    depth = 0
    in_str = esc = False
    start = -1
    for i, b in enumerate(text):
        if in_str:
            if esc:
                esc = False
            elif b == 0x5C:  # backslash
                esc = True
            elif b == 0x22:
                in_str = False
            continue
        if b == 0x22:
            in_str = True
        elif b == 0x7B:
            if depth == 0:
                start = i
            depth += 1
        elif b == 0x7D and depth:
            depth -= 1
            if depth == 0 and start >= 0:
                try:
                    obj = _decode(text[start : i + 1])
                except msgspec.DecodeError:
                    obj = None
                if isinstance(obj, dict):
                    out.append(obj)
    return out


def decode_payload(data: bytes, *, strict: bool = False) -> list[dict[str, Any]]:
    """One SSE data payload → JSON objects.

    Recovers GLM's glued frames (a truncated event followed by ``data: {…}`` on the same
    line): the broken head is dropped, the tail parsed. Valid JSON is never split, even if its
    text contains ``data:``. A payload nothing can be recovered from (not JSON, invalid UTF-8)
    yields nothing, or with ``strict`` raises ``provider.bad_response``: a stream must not end
    "completed" with a piece of the answer silently missing.
    """
    try:
        obj = _decode(data)
    except msgspec.DecodeError:
        pass
    else:
        return [obj] if isinstance(obj, dict) else []
    if _GLUE in data:
        out: list[dict[str, Any]] = []
        for piece in data.split(_GLUE):
            piece = piece.strip()
            if piece and piece != b"[DONE]":
                out.extend(_objects(piece))
    else:
        out = _split_concatenated(data)
    if not out and strict and data.strip():
        raise ProviderError(
            "upstream sent a stream chunk that is not valid JSON: "
            + data[:200].decode("utf-8", "replace"),
            code="provider.bad_response",
        )
    return out


def decode_plain_payloads(payloads: list[bytes]) -> list[dict[str, Any]] | None:
    """The payloads of one read in one decoder call, when each is one plain JSON object (a
    50-event read then costs one call, not 50); None when any is not, so the caller decodes
    them one by one (``decode_payload``) and meets glued frames and garbage as before.

    The joined array must hold exactly one object per payload and each payload be delimited
    as an object, or it is not taken: the result is the per-payload one or nothing."""
    if len(payloads) < 2 or not all(p[:1] == b"{" and p[-1:] == b"}" for p in payloads):
        return None
    try:
        objs = _decode(b"[" + b",".join(payloads) + b"]")
    except msgspec.DecodeError:
        return None
    if len(objs) != len(payloads) or not all(type(o) is dict for o in objs):
        return None
    return objs  # type: ignore[no-any-return]


def decode_body(raw: bytes) -> dict[str, Any]:
    """A non-streaming upstream body; some providers answer stream:false with SSE anyway."""
    try:
        obj = _decode(raw)
    except msgspec.DecodeError:
        obj = None
    if isinstance(obj, dict):
        return obj
    raise ProviderError(
        "upstream returned a body that is not a JSON object: "
        + raw[:200].decode("utf-8", "replace"),
        code="provider.bad_response",
    )
