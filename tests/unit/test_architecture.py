"""The layers hold: every import in godex/ goes down the order in the README, and none cycles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "godex"

# Top to bottom; a module may import its own layer or any layer below it.
LAYERS: list[tuple[str, ...]] = [
    ("cli", "__main__"),
    ("server",),
    ("telemetry",),
    ("frontdoors",),
    ("gateway",),
    ("bridge",),
    ("providers",),
    ("upstream", "sessions", "trace", "limits"),
    ("protocol",),
    (
        "config",
        "errors",
        "ids",
        "logging",
        "redact",
        "sqlite_db",
        "postgres_db",
        "background_thread",
        "__init__",
    ),
]
RANK = {name: len(LAYERS) - i for i, names in enumerate(LAYERS) for name in names}


def _module(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every godex module a file imports, at any depth (function-level and TYPE_CHECKING too)."""
    tree = ast.parse(path.read_text(), str(path))
    package = _module(path) if path.name == "__init__.py" else _module(path).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "godex")
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            if base.split(".")[0] != "godex":
                continue
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if _exists(candidate) else base)
    return found


def _exists(module: str) -> bool:
    rel = Path(*module.split(".")[1:])
    return (ROOT / rel).with_suffix(".py").exists() or (ROOT / rel / "__init__.py").exists()


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _graph() -> dict[str, set[str]]:
    files = sorted(ROOT.rglob("*.py"))
    return {_module(f): {m for m in _imports(f) if m != _module(f)} for f in files}


def test_every_package_has_a_layer() -> None:
    unknown = sorted({_layer(m) for m in _graph()} - set(RANK))
    assert unknown == [], f"packages with no place in LAYERS: {unknown}"


def test_no_import_goes_up_the_layers() -> None:
    upward = [
        f"{src} -> {dst}"
        for src, targets in _graph().items()
        for dst in sorted(targets)
        if RANK.get(_layer(dst), 0) > RANK.get(_layer(src), 0)
    ]
    assert upward == []


def test_no_import_cycles() -> None:
    graph = _graph()
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert cycles == []


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("godex/server", "aiohttp"),  # the server knows HTTP in, never the upstream client
        ("godex/gateway", "aiohttp"),
        ("godex/bridge", "aiohttp"),
        ("godex/providers", "aiohttp"),
    ],
)
def test_only_the_transport_knows_aiohttp(package: str, forbidden: str) -> None:
    offenders = [
        str(f.relative_to(ROOT.parent))
        for f in (ROOT.parent / package).rglob("*.py")
        if any(
            (isinstance(n, ast.Import) and any(a.name.split(".")[0] == forbidden for a in n.names))
            or (isinstance(n, ast.ImportFrom) and (n.module or "").split(".")[0] == forbidden)
            for n in ast.walk(ast.parse(f.read_text()))
        )
    ]
    assert offenders == []


def test_aiohttp_is_imported_in_exactly_one_module() -> None:
    users = sorted(
        _module(f)
        for f in ROOT.rglob("*.py")
        if any(
            (isinstance(n, ast.Import) and any(a.name == "aiohttp" for a in n.names))
            or (isinstance(n, ast.ImportFrom) and (n.module or "").split(".")[0] == "aiohttp")
            for n in ast.walk(ast.parse(f.read_text()))
        )
    )
    assert users == ["godex.upstream.aiohttp_transport"]


def test_the_http_client_parser_stays_in_the_upstream_layer() -> None:
    """httptools parses requests for the server and answers for the built-in upstream client;
    no other layer parses HTTP."""
    users = sorted(
        _module(f)
        for f in ROOT.rglob("*.py")
        if any(
            (isinstance(n, ast.Import) and any(a.name == "httptools" for a in n.names))
            or (isinstance(n, ast.ImportFrom) and (n.module or "").split(".")[0] == "httptools")
            for n in ast.walk(ast.parse(f.read_text()))
        )
    )
    assert [u for u in users if not u.startswith("godex.server.")] == [
        "godex.upstream.http1_conn",
        "godex.upstream.http1_errors",
    ]


def test_the_default_transport_does_not_load_aiohttp() -> None:
    """The aiohttp transport is imported only when the config asks for it."""
    import subprocess
    import sys

    code = (
        "import sys, godex.server.app, godex.gateway.wiring as w; "
        "from godex.config.schema import GodexConfig; "
        "w.make_transport(GodexConfig()); print('aiohttp' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT.parent
    )
    assert out.stdout.strip() == "False"


def test_the_scan_sees_an_upward_import(tmp_path: Path) -> None:
    """The scanner itself can fail: a lower layer importing a higher one is reported."""
    assert RANK[_layer("godex.gateway.core")] > RANK[_layer("godex.bridge.plan")]
    assert RANK[_layer("godex.config.schema")] < RANK[_layer("godex.providers.registry")]
