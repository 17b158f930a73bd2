"""Incremental SSE reader for upstream Chat Completions streams.

Works on raw bytes in arbitrary splits: CRLF, LF or CR line ends, comments (keep-alives),
multi-line ``data:`` fields. Yields each event's data payload; ``[DONE]`` ends the stream.
"""

from __future__ import annotations

_DONE = b"[DONE]"
_DATA = b"data: "
_NEXT = b"\n\ndata: "


class SSEReader:
    __slots__ = ("_buf", "_data", "done")

    def __init__(self) -> None:
        self._buf = b""
        self._data: list[bytes] = []
        self.done = False

    def feed(self, chunk: bytes) -> list[bytes]:
        """Data payloads of the events completed by ``chunk``."""
        if self.done:
            return []
        buf = self._buf + chunk if self._buf else chunk
        if not self._data and b"\r" not in buf:
            fast = self._fast(buf)
            if fast is not None:
                return fast
        if b"\r" in buf:
            # A lone trailing CR may be the first half of a CRLF: keep it for the next chunk.
            keep_cr = buf.endswith(b"\r")
            if keep_cr:
                buf = buf[:-1]
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            if keep_cr:
                buf += b"\r"
        out: list[bytes] = []
        start = 0
        while True:
            end = buf.find(b"\n", start)
            if end < 0:
                break
            line = buf[start:end]
            start = end + 1
            if not line:
                if self._data:
                    payload = b"\n".join(self._data)
                    self._data = []
                    if payload.strip() == _DONE:
                        self.done = True
                        self._buf = b""
                        return out
                    out.append(payload)
                continue
            self._line(line)
        self._buf = buf[start:]
        return out

    def _fast(self, buf: bytes) -> list[bytes] | None:
        """The common case, split in C: LF-only events that are one ``data:`` line each."""
        if buf.startswith(_DATA):
            body, sep, rest = buf.rpartition(b"\n\n")
            pieces = body[6:].split(_NEXT)
            # Every line break is one of the event boundaries: each event is one data line.
            if sep and body.count(b"\n") == 2 * len(pieces) - 2:
                if _DONE in pieces:
                    self.done = True
                    self._buf = b""
                    return pieces[: pieces.index(_DONE)]
                self._buf = rest
                return pieces
        events = buf.split(b"\n\n")
        rest = events.pop()
        out: list[bytes] = []
        for ev in events:
            if not ev.startswith(b"data:") or b"\n" in ev:
                if ev.startswith(b":") and b"\n" not in ev:
                    continue  # a keep-alive comment
                return None  # anything unusual takes the general path
            value = ev[6:] if ev[5:6] == b" " else ev[5:]
            if value == _DONE:
                self.done = True
                self._buf = b""
                return out
            out.append(value)
        self._buf = rest
        return out

    def _line(self, line: bytes) -> None:
        if line.startswith(b"data:"):
            value = line[5:]
            if value.startswith(b" "):
                value = value[1:]
            self._data.append(value)
        # Comments (":…"), event:, id:, retry: carry nothing we use.

    def close(self) -> list[bytes]:
        """End of input: an unterminated last event still counts if it has data."""
        if self.done:
            return []
        rest = self._buf.rstrip(b"\r")
        self._buf = b""
        if rest:
            self._line(rest)
        out: list[bytes] = []
        if self._data:
            payload = b"\n".join(self._data)
            self._data = []
            if payload.strip() == _DONE:
                self.done = True
            else:
                out.append(payload)
        return out
