"""Stream one top-level string field out of JSON that arrives in fragments.

Custom tools go upstream as a function with a single string parameter; the model streams
``{"input": "*** Begin Patch\\n…`` and the client expects the raw text as it comes. This
decodes the value of that field incrementally, escapes and surrogate pairs included, without
re-parsing the whole buffer on every fragment.
"""

from __future__ import annotations

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", '"': '"', "\\": "\\", "/": "/"}


class StringFieldStream:
    __slots__ = ("_esc", "_key", "_pending_high", "_scan", "_state", "raw_mode")

    def __init__(self, key: str) -> None:
        self._key = f'"{key}"'
        self._scan = ""  # text seen before the value starts
        self._state = 0  # 0 seeking, 1 in value, 2 value ended
        self._esc = ""  # an unfinished escape sequence
        self._pending_high: int | None = None
        self.raw_mode = False  # the model sent plain text, not JSON

    def feed(self, fragment: str) -> str:
        """The newly decoded characters of the field's value."""
        if self.raw_mode:
            return fragment
        if self._state == 2 or not fragment:
            return ""
        if self._state == 0:
            self._scan += fragment
            head = self._scan.lstrip()
            if head and head[0] != "{":
                self.raw_mode = True
                out, self._scan = self._scan, ""
                return out
            pos = self._scan.find(self._key)
            if pos < 0:
                return ""
            rest = self._scan[pos + len(self._key) :]
            colon = rest.find(":")
            if colon < 0:
                return ""
            after = rest[colon + 1 :].lstrip()
            if not after:
                return ""
            if after[0] != '"':
                self._state = 2  # not a string: leave it to the final parse
                return ""
            self._state = 1
            self._scan = ""
            fragment = after[1:]
        return self._decode(fragment)

    def _decode(self, text: str) -> str:
        out: list[str] = []
        i = 0
        n = len(text)
        if self._esc:
            text = self._esc + text
            self._esc = ""
            n = len(text)
        while i < n:
            ch = text[i]
            if ch == '"':
                self._state = 2
                break
            if ch != "\\":
                j = i
                while j < n and text[j] != '"' and text[j] != "\\":
                    j += 1
                out.append(text[i:j])
                i = j
                continue
            if i + 1 >= n:
                self._esc = text[i:]
                break
            kind = text[i + 1]
            if kind == "u":
                if i + 6 > n:
                    self._esc = text[i:]
                    break
                try:
                    code = int(text[i + 2 : i + 6], 16)
                except ValueError:
                    code = 0xFFFD
                i += 6
                if 0xD800 <= code < 0xDC00:
                    self._pending_high = code
                    continue
                if 0xDC00 <= code < 0xE000 and self._pending_high is not None:
                    code = 0x10000 + ((self._pending_high - 0xD800) << 10) + (code - 0xDC00)
                self._pending_high = None
                out.append(chr(code))
                continue
            out.append(_ESCAPES.get(kind, kind))
            i += 2
        return "".join(out)
