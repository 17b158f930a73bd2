"""Each config key is declared once, as metadata on its dataclass field in ``schema.py``.

A declaration names the key's place in ``godex.yaml``, its kind (which converts, validates and
prints it), whether it is a secret and any older spelling. The parser (``build.py``), the
unknown-key check and the redacted print-out (``redacted.py``) all read these declarations,
so adding a key is one line in ``schema.py``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any

from godex.config.durations import format_duration, parse_duration

KEY = "godex.config.key"
MASK = "***"
# Accepted level spellings; the TypeScript GodeX also wrote trace and warn.
LEVEL_ALIASES = {"trace": "debug", "warn": "warning"}
LEVELS = ("debug", "info", "warning", "error", "critical")
LEVEL_NAMES = ("trace", "debug", "info", "warn", "warning", "error", "critical")
_TYPE_NAMES = {
    int: "an integer",
    float: "a number",
    str: "a string",
    bool: "a boolean",
    dict: "a mapping",
    list: "a list",
}


class Invalid(Exception):
    """A value the key cannot take; the field keeps its default."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def hint(word: str, options: list[str]) -> str:
    near = difflib.get_close_matches(word, options, n=1)
    return f" (did you mean '{near[0]}'?)" if near else ""


def _describe(value: object) -> str:
    return "a boolean" if isinstance(value, bool) else type(value).__name__


def coerce(value: object, kinds: tuple[type, ...], secret: bool = False) -> Any:
    """``value`` if it has one of ``kinds``, converting the strings ``${VAR}`` gives."""
    if isinstance(value, str):
        text = value.strip()
        if int in kinds and re.fullmatch(r"-?\d+", text):
            return int(text)
        if float in kinds and re.fullmatch(r"-?\d+(\.\d+)?", text):
            return float(text)
        if bool in kinds and text.lower() in ("true", "false"):
            return text.lower() == "true"
    if float in kinds and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        expected = " or ".join(_TYPE_NAMES.get(k, k.__name__) for k in kinds)
        shown = "" if secret else f" ({value!r})"  # never echo a secret into a message
        raise Invalid(f"expected {expected}, got {_describe(value)}{shown}")
    return value


class Kind:
    """How one key's value is read from YAML and written back."""

    free_keys = False  # a mapping whose keys are the user's own (headers, aliases)

    def parse(self, value: Any, where: str, problems: list[str], secret: bool) -> Any:
        return value

    def dump(self, value: Any, secret: bool) -> Any:
        if secret:
            return MASK if value else None
        return value


class Int(Kind):
    def __init__(self, low: int | None = None, high: int | None = None, what: str = "") -> None:
        self.low, self.high, self.what = low, high, what

    def parse(self, value: Any, where: str, problems: list[str], secret: bool) -> Any:
        number: int = coerce(value, (int,), secret)
        if self.low is not None and number < self.low:
            raise Invalid(f"must be at least {self.low}, got {number}")
        if self.high is not None and number > self.high:
            raise Invalid(f"{number} is not a valid {self.what} ({self.low}-{self.high})")
        return number


class Bool(Kind):
    def parse(self, value: Any, where: str, problems: list[str], secret: bool) -> Any:
        return bool(coerce(value, (bool,), secret))


class Str(Kind):
    def __init__(self, empty_is_none: bool = False) -> None:
        self.empty_is_none = empty_is_none

    def parse(self, value: Any, where: str, problems: list[str], secret: bool) -> Any:
        text: str = coerce(value, (str,), secret)
        return None if self.empty_is_none and not text else text


class Url(Str):
    def __init__(self) -> None:
        super().__init__(empty_is_none=True)

    def parse(self, value: Any, where: str, problems: list[str], secret: bool) -> Any:
        url = super().parse(value, where, problems, secret)
        if url is not None and not re.match(r"^https?://[^/\s]+", url):
            # Reported, but kept: the other checks still see the intended value.
            problems.append(f"{where}: {url!r} is not an http(s) URL")
        return url


class Choice(Kind):
    def __init__(self, what: str, *options: str) -> None:
        self.what, self.options = what, options

    def parse(self, value: Any, where: str, problems: list[str], secret: bool) -> Any:
        text: str = coerce(value, (str,), secret)
        if text not in self.options:
            raise Invalid(
                f"{text!r} is not a {self.what} ({' or '.join(self.options)})"
                f"{hint(text, list(self.options))}"
            )
        return text


class Level(Kind):
    def parse(self, value: Any, where: str, problems: list[str], secret: bool) -> Any:
        text = str(coerce(value, (str,), secret)).lower()
        level = LEVEL_ALIASES.get(text, text)
        if level not in LEVELS:
            raise Invalid(f"{value!r} is not a level ({', '.join(LEVEL_NAMES)})")
        return level


def parse_level(value: str) -> str:
    """A level as logging names it (``warn`` -> ``warning``); raises Invalid."""
    level: str = Level().parse(value, "", [], False)
    return level


class Duration(Kind):
    """Whole seconds from 30s / 15m / 12h / 30d / 2w or plain seconds; "off" is None."""

    def __init__(self, allow_off: bool = True) -> None:
        self.allow_off = allow_off

    def parse(self, value: Any, where: str, problems: list[str], secret: bool) -> Any:
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            raise Invalid(str(exc)) from exc
        if seconds is None and not self.allow_off:
            shown = "'off'" if value is False else repr(value)  # YAML reads a bare off as false
            raise Invalid(
                f"{shown} is not a duration here (use e.g. 30s or 5m; off is not allowed)"
            )
        return seconds

    def dump(self, value: Any, secret: bool) -> Any:
        return format_duration(value)


class Seconds(Kind):
    """Fractional seconds: a number, or a duration string; with ``off_is_zero``, ``off`` (or a
    YAML false) is 0, meaning no limit."""

    def __init__(self, off_is_zero: bool = False) -> None:
        self.off_is_zero = off_is_zero

    def parse(self, value: Any, where: str, problems: list[str], secret: bool) -> Any:
        if self.off_is_zero and (
            value is False or (isinstance(value, str) and value.strip().lower() == "off")
        ):
            return 0.0
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
            return float(value)
        seconds = Duration().parse(value, where, problems, secret)
        if seconds is None and self.off_is_zero:
            return 0.0
        if seconds is None:
            raise Invalid(f"{value!r} is not a duration (use e.g. 30s, 2.5 or 1m)")
        return float(seconds)

    def dump(self, value: Any, secret: bool) -> Any:
        if not self.off_is_zero:
            return value
        if value == 0:
            return "off"
        return Duration().dump(int(value), secret) if float(value).is_integer() else value


_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]?)i?b?\s*$", re.I)
_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


class Size(Kind):
    def parse(self, value: Any, where: str, problems: list[str], secret: bool) -> Any:
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
        m = _SIZE.match(value) if isinstance(value, str) else None
        if not m or int(m.group(1)) == 0:
            raise Invalid(f"{value!r} is not a size (bytes, or e.g. 512KB, 10MB, 1GB)")
        return int(m.group(1)) * _SIZE_UNITS[m.group(2).lower()]


class StrList(Kind):
    def parse(self, value: Any, where: str, problems: list[str], secret: bool) -> Any:
        return tuple(str(v) for v in coerce(value, (list,), secret))

    def dump(self, value: Any, secret: bool) -> Any:
        return [MASK for _ in value] if secret else list(value)


class Keys(StrList):
    """One string or a list of them (client API keys); numbers are taken as strings."""

    def parse(self, value: Any, where: str, problems: list[str], secret: bool) -> Any:
        items = coerce(value, (list, str), secret)
        items = [items] if isinstance(items, str) else items
        out: list[str] = []
        for i, item in enumerate(items):
            if not isinstance(item, (str, int)) or isinstance(item, bool):
                problems.append(f"{where}[{i}]: expected a string")
            elif str(item):
                out.append(str(item))
        return tuple(out)


class Mapping_(Kind):
    """A mapping with names of the user's choosing, kept as written."""

    free_keys = True

    def parse(self, value: Any, where: str, problems: list[str], secret: bool) -> Any:
        return dict(coerce(value, (dict,), secret))

    def dump(self, value: Any, secret: bool) -> Any:
        return dict(value)


class StrMap(Mapping_):
    """Names to strings (headers); ``secret_names`` marks the entries to mask when printed."""

    def __init__(self, secret_names: re.Pattern[str] | None = None) -> None:
        self.secret_names = secret_names

    def parse(self, value: Any, where: str, problems: list[str], secret: bool) -> Any:
        out: dict[str, str] = {}
        for k, v in super().parse(value, where, problems, secret).items():
            if isinstance(v, (dict, list)):
                problems.append(f"{where}.{k}: expected a string")
            else:
                out[str(k)] = str(v)
        return out

    def dump(self, value: Any, secret: bool) -> Any:
        names = self.secret_names
        return {k: MASK if names is not None and names.search(k) else v for k, v in value.items()}


@dataclass(frozen=True, slots=True)
class Key:
    kind: Kind | None  # None: a section (``section``) or a mapping of sections (``entries``)
    yaml: str | None = None  # dotted path under the section; default: the field name
    secret: bool = False  # masked by ``config print``, never echoed in messages
    section: type | None = None
    entries: type | None = None  # ``providers``: any name -> this section
    bool_shorthand: bool = False  # ``console: false`` means ``console: {enabled: false}``
    legacy: str | None = None  # the older flat spelling, now ignored with a pointer here
    custom: bool = False  # read by the section's own code in build.py (cross-key rules)
    in_data_dir: str | None = None  # when absent: this file name under server.data_dir


def meta(kind: Kind | None, **options: Any) -> dict[str, Key]:
    """Field metadata declaring one config key (see ``Key`` for the options)."""
    return {KEY: Key(kind, **options)}


def sub(cls: type, **options: Any) -> dict[str, Key]:
    """Field metadata declaring a section read into the dataclass ``cls``."""
    return {KEY: Key(None, section=cls, **options)}


def key(default: Any = MISSING, kind: Kind | None = None, **options: Any) -> Any:
    """A dataclass field with an immutable default, declaring one config key."""
    return field(default=default, metadata=meta(kind, **options))


def declared(cls: type) -> tuple[tuple[Field[Any], Key, tuple[str, ...]], ...]:
    """The fields of ``cls`` that are config keys, with their YAML paths."""
    out = []
    for f in fields(cls):
        k = f.metadata.get(KEY)
        if isinstance(k, Key):
            out.append((f, k, tuple((k.yaml or f.name).split("."))))
    return tuple(out)


def default_of(f: Field[Any]) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    return None


@dataclass
class Tree:
    """The accepted keys under one section, for the unknown-key check."""

    keys: dict[str, Tree | None] = field(default_factory=dict)
    each: Tree | None = None  # set for ``providers``: every name has this shape
    free: bool = False  # any name is fine (headers)
    moved: dict[str, str] = field(default_factory=dict)  # legacy spelling -> current path


def tree(cls: type) -> Tree:
    out = Tree()
    for _, k, path in declared(cls):
        node = out
        for part in path[:-1]:
            sub = node.keys.get(part)
            if sub is None:
                sub = node.keys[part] = Tree()
            node = sub
        leaf: Tree | None = None
        if k.section is not None:
            leaf = tree(k.section)
        elif k.entries is not None:
            leaf = Tree(each=tree(k.entries))
        elif k.kind is not None and k.kind.free_keys:
            leaf = Tree(free=True)
        node.keys[path[-1]] = leaf
        if k.legacy:
            out.moved[k.legacy] = ".".join(path)
    return out


def legacy_keys(cls: type) -> dict[str, str]:
    return tree(cls).moved


def dump(obj: Any) -> dict[str, Any]:
    """``obj`` (a schema dataclass) as ``godex.yaml`` data, secrets masked."""
    out: dict[str, Any] = {}
    for f, k, path in declared(type(obj)):
        value = getattr(obj, f.name)
        if k.section is not None:
            shown: Any = dump(value)
        elif k.entries is not None:
            shown = {name: dump(entry) for name, entry in value.items()}
        elif k.kind is None:
            continue
        elif value is None and not isinstance(k.kind, Duration):
            shown = None  # absent; a None duration is "off" and printed so
        else:
            shown = k.kind.dump(value, k.secret)
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = shown
    return out


def lookup(data: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """The value at ``path``; None when any step is absent or not a mapping."""
    value: Any = data
    for part in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value
