"""Durations in config and on the command line: 30s, 15m, 12h, 30d, 2w, or plain seconds."""

from __future__ import annotations

import re

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
OFF = ("off", "never", "none")


def parse_duration(value: object) -> int | None:
    """Seconds, or None for "off" (no expiry). Raises ValueError with a usable message."""
    if value is None or value is False or (isinstance(value, str) and value.lower() in OFF):
        return None
    if isinstance(value, bool):  # True is an int in Python; it is not a duration
        raise ValueError(f"{value!r} is not a duration (use e.g. 30s, 15m, 12h, 30d or off)")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{value!r} is negative")
        return value
    m = _DURATION.match(str(value))
    if not m:
        raise ValueError(f"{value!r} is not a duration (use e.g. 30s, 15m, 12h, 30d or off)")
    return int(m.group(1)) * _UNITS[m.group(2)]


def format_duration(seconds: int | None) -> str:
    """The shortest exact spelling, so ``config print`` output loads back unchanged."""
    if seconds is None:
        return "off"
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
