"""The resolved config as ``godex.yaml``-shaped data with secrets replaced by ``***``.

The shape is the file's own, so ``godex config print`` output is itself a valid config. Which
keys are secret is declared once, in ``schema.py``.
"""

from __future__ import annotations

from typing import Any

from godex.config.keys import MASK, dump
from godex.config.schema import GodexConfig

__all__ = ["MASK", "redacted_dict"]


def redacted_dict(config: GodexConfig) -> dict[str, Any]:
    return dump(config)
