"""A stream's plain text chunks read by their frame, without decoding each one.

Most chunks of a Chat Completions stream are the same bytes but for the text:
``{"id":"…","object":"chat.completion.chunk",…,"delta":{"content":"<text>"},…}``. Once one
such chunk has been decoded, its bytes before and after the text's JSON string are the frame;
the texts of a run of chunks in that frame are then one decoder call on ``["t1","t2",…]``
(a 50-chunk read: a few microseconds instead of 50 decodes and 50 dict walks).

Exact by construction: the frame is learned only where the text's encoding occurs once in the
chunk, and checked by decoding the frame around a probe text, which must give the same object
with only that text changed. A run is taken only if every chunk has the frame and the texts
decode to exactly one JSON string per chunk, with no chunk's text ending in a backslash (the
one way two malformed texts could decode to the right count); anything else, the caller's
general decoder reads.
"""

from __future__ import annotations

from typing import Any

import msgspec

_encode = msgspec.json.encode
_decode_obj = msgspec.json.Decoder().decode
_decode_texts = msgspec.json.Decoder(list[str]).decode
_PROBE = '\x01"probe'
_LEARN_TRIES = 4  # chunks a stream may spend learning; a stream whose frames vary stops trying


class TextFrames:
    __slots__ = ("_frame", "_tries")

    def __init__(self) -> None:
        self._frame: tuple[bytes, bytes, bytes] | None = None  # head, tail, head-tail joint
        self._tries = _LEARN_TRIES

    @property
    def known(self) -> bool:
        return self._frame is not None

    @property
    def learning(self) -> bool:
        return self._frame is None and self._tries > 0

    def learn(self, payload: bytes, obj: dict[str, Any], text: str) -> None:
        """``obj`` is ``payload`` decoded, a plain text chunk whose text is ``text``."""
        if self._frame is not None or self._tries <= 0 or not text:
            return
        self._tries -= 1
        enc = _encode(text)
        at = payload.find(enc)
        if at < 0 or payload.find(enc, at + 1) >= 0:
            return  # escaped differently from ours, or ambiguous: not this chunk
        head, tail = payload[: at + 1], payload[at + len(enc) - 1 :]
        try:
            expected = _decode_obj(payload)  # a copy of ``obj`` to change
            expected["choices"][0]["delta"]["content"] = _PROBE
            probe = _decode_obj(head + _encode(_PROBE)[1:-1] + tail)
        except (msgspec.DecodeError, KeyError, IndexError, TypeError):
            return
        if probe == expected:
            self._frame = (head, tail, tail + b"\n" + head)

    def texts(self, payloads: list[bytes]) -> list[str] | None:
        """The texts of ``payloads`` when every one is a chunk in the frame, else None."""
        frame = self._frame
        if frame is None or not payloads:
            return None
        head, tail, joint = frame
        lh, lt = len(head), len(tail)
        raw = [p[lh : len(p) - lt] for p in payloads]
        # The texts put back in the frame must give the read back: every chunk is in it
        # (lengths line up, so the whole being equal means each chunk is).
        joined = b"\n".join(payloads)
        if (
            len(joined) < lh + lt
            or not joined.startswith(head)
            or not joined.endswith(tail)
            or joined[lh : len(joined) - lt] != joint.join(raw)
        ):
            return None
        array = b'["' + b'","'.join(raw) + b'"]'
        if b'\\","' in array or array.endswith(b'\\"]'):
            return None
        try:
            texts = _decode_texts(array)
        except msgspec.DecodeError:
            return None
        return texts if len(texts) == len(payloads) else None
