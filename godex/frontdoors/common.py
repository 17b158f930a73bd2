"""Small helpers every door's parser shares: JSON decoding and typed field checks."""

from __future__ import annotations

from typing import Any

import msgspec

from godex.errors import GodexError, InvalidRequestError

_decode = msgspec.json.Decoder().decode


def decode_object(body: bytes) -> dict[str, Any]:
    try:
        data = _decode(body) if body else None
    except msgspec.DecodeError as exc:
        raise InvalidRequestError(
            f"We could not parse the JSON body of your request: {exc}", wire_code="invalid_json"
        ) from exc
    if not isinstance(data, dict):
        raise InvalidRequestError(
            "The request body must be a JSON object.", wire_code="invalid_json"
        )
    return data


def bad(param: str, expected: str, value: Any) -> InvalidRequestError:
    got = type(value).__name__ if value is not None else "null"
    return InvalidRequestError(
        f"{param}: expected {expected}, but got {got}.", param=param, wire_code="invalid_type"
    )


def missing(param: str) -> InvalidRequestError:
    return InvalidRequestError(
        f"{param}: Field required", param=param, wire_code="missing_required_parameter"
    )


def opt(body: dict[str, Any], key: str, types: tuple[type, ...], expected: str) -> Any:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        raise bad(key, expected, value)
    return value


def number(body: dict[str, Any], key: str) -> float | None:
    value = opt(body, key, (int, float), "a number")
    return None if value is None else float(value)


def positive_int(body: dict[str, Any], key: str) -> int | None:
    value = opt(body, key, (int,), "an integer")
    if value is not None and value < 1:
        raise InvalidRequestError(
            f"{key}: must be at least 1", param=key, wire_code="invalid_value"
        )
    return value  # type: ignore[no-any-return]


def string_list(body: dict[str, Any], key: str) -> list[str] | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad(key, "a string or an array of strings", value)
    return list(value)


def failed(response: dict[str, Any]) -> GodexError:
    """A sync turn that ended ``failed`` (e.g. its output check): an error status, not a 200."""
    err = response.get("error") or {}
    code = str(err.get("code") or "provider.error")
    status = 400 if code == "context_length_exceeded" else 502
    return GodexError(
        str(err.get("message") or "the upstream model failed"), code=code, status=status
    )
