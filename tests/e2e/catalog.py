"""Regenerate ``model_catalog.json``: Codex's own gpt-5.5 entry under the e2e suite's slugs.

Codex offers ``apply_patch`` (a freeform custom tool) only to models it has metadata for, so the
e2e suite hands it this catalogue with ``-c model_catalog_json=...``. Run after bumping Codex:
``python -m tests.e2e.catalog``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CATALOG = HERE / "model_catalog.json"
# One slug per GodeX alias the suite uses (see conftest.ALIASES).
SLUGS = ("godex-e2e", "godex-e2e-deepseek")
SOURCE_SLUG = "gpt-5.5"
# A short system prompt keeps every recorded request small and easy to read.
INSTRUCTIONS = (
    "You are Codex, a coding agent. You run shell commands with exec_command and edit files "
    "with apply_patch. Keep answers short."
)


def derive(models: dict[str, Any]) -> dict[str, Any]:
    source = next(m for m in models["models"] if m["slug"] == SOURCE_SLUG)
    return {"models": [_entry(source, slug) for slug in SLUGS]}


def _entry(source: dict[str, Any], slug: str) -> dict[str, Any]:
    entry = dict(source)
    entry.update(
        slug=slug,
        display_name=slug,
        description="Codex's gpt-5.5 metadata under a custom slug, for GodeX's e2e tests.",
        upgrade=None,
        availability_nux=None,
        # No tool_search: keeps the tool list flat so the scripted upstream sees every tool.
        supports_search_tool=False,
        base_instructions=INSTRUCTIONS,
    )
    messages = dict(entry.get("model_messages") or {})
    messages["instructions_template"] = INSTRUCTIONS
    entry["model_messages"] = messages
    return entry


def main() -> int:
    from tests.e2e.codex import codex_binary

    with tempfile.TemporaryDirectory() as home:
        out = subprocess.run(
            [str(codex_binary()), "debug", "models", "--bundled"],
            env={**os.environ, "CODEX_HOME": home},
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
    CATALOG.write_text(json.dumps(derive(json.loads(out)), indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {CATALOG}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
