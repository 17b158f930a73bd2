# TEMPORARY STUB (lead): the owning helper replaces this file entirely.
from __future__ import annotations

import click


@click.group("traces", invoke_without_command=True)
def traces() -> None:
    """Inspect recorded requests."""
