"""Structured output checks: the model's text must be JSON, or match the requested schema.

When a provider can't enforce ``json_schema`` natively the bridge downgrades it; this check
keeps the promise anyway, with a real JSON Schema validator (``schema_guard``: local refs only,
linear-time regexes, so a client's schema cannot stall the event loop).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any

from godex.errors import GodexError, OutputContractViolation


@dataclass(slots=True)
class OutputContract:
    kind: str  # "json_object" | "json_schema"
    name: str = "output"
    schema: dict[str, Any] | None = None
    _validate: Any = field(default=None, repr=False)

    def validator(self) -> Any:
        if self._validate is None and self.schema is not None:
            self._validate = _compile(json.dumps(self.schema, sort_keys=True))
        return self._validate


@functools.lru_cache(maxsize=256)
def _compile(schema_json: str) -> Any:
    # Auditing and building the validator walks the whole schema: once per distinct schema.
    # Imported here: the validator stack costs ~90 ms at start-up, and most turns never need it.
    from godex.bridge.schema_guard import compile_schema

    return compile_schema(json.loads(schema_json))


def compile_contract(kind: str, name: str, schema: dict[str, Any] | None) -> OutputContract:
    """The contract for a ``text.format``; a schema that cannot be checked safely is a 400."""
    contract = OutputContract(kind, name, schema)
    if schema is not None:
        contract.validator()
    return contract


def _output_text(response: dict[str, Any]) -> str | None:
    texts: list[str] = []
    for item in response.get("output") or []:
        if item.get("type") == "message":
            for part in item.get("content") or []:
                if part.get("type") == "output_text":
                    texts.append(part.get("text") or "")
    return "".join(texts) if texts else None


def _strip_fence(text: str) -> str:
    t = text.strip()
    if t.startswith("```"):
        first = t.find("\n")
        if first > 0 and t.endswith("```"):
            return t[first + 1 : -3].strip()
    return t


def check_output(contract: OutputContract, response: dict[str, Any]) -> GodexError | None:
    """None when the output keeps the contract; otherwise the violation."""
    text = _output_text(response)
    if text is None:
        if any(i.get("type") != "reasoning" for i in response.get("output") or []):
            return None  # a tool-call turn has no text to check
        return OutputContractViolation(
            "the model returned no text, but structured output was requested",
            code="bridge.output_contract_violation",
        )
    try:
        value = json.loads(_strip_fence(text))
    except RecursionError:
        return OutputContractViolation(
            "the model's output is JSON nested too deeply to check",
            code="bridge.output_contract_violation",
        )
    except ValueError as exc:
        return OutputContractViolation(
            f"the model's output is not valid JSON: {exc}",
            code="bridge.output_contract_violation",
        )
    if contract.kind == "json_object" and not isinstance(value, dict):
        return OutputContractViolation(
            "the model's output is JSON but not an object", code="bridge.output_contract_violation"
        )
    validate = contract.validator()
    if validate is not None:
        from referencing.exceptions import Unresolvable

        try:
            error = next(iter(validate.iter_errors(value)), None)
        except Unresolvable as exc:
            # A reference only resolvable remotely (nothing is ever fetched): unchecked.
            return OutputContractViolation(
                f"the schema '{contract.name}' could not be evaluated: {exc}"[:500],
                code="bridge.output_contract_violation",
            )
        except RecursionError:
            # Instances recurse through recursive schemas; a too-deep answer is a violation.
            return OutputContractViolation(
                "the model's output is nested too deeply to check against the schema "
                f"'{contract.name}'",
                code="bridge.output_contract_violation",
            )
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path)
            return OutputContractViolation(
                f"the model's output does not match the schema '{contract.name}': "
                f"{error.message[:500]}" + (f" (at '{where}')" if where else ""),
                code="bridge.output_contract_violation",
            )
    return None
