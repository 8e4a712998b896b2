"""The layout's rules, checked from the source so they cannot quietly erode: no import circles in `client/` or
`service/` (every import counts: module level, inside functions, under TYPE_CHECKING, and `importlib.import_module` of a
literal name), no module over 800
lines, the public surface of `runhive` pinned, and the service never reaching into the client's private modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = (ROOT / "client", ROOT / "service")
GENERATED = ("runhive.protocol.v1.",)
MAX_LINES = 800


def _modules() -> dict[str, Path]:
    mods: dict[str, Path] = {}
    for src in SOURCES:
        for path in sorted(src.rglob("*.py")):
            parts = list(path.relative_to(src).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods[".".join(parts)] = path
    return mods


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES.get(name, Path()).name == "__init__.py"


def _imports(name: str, path: Path) -> set[str]:
    """First-party modules that `name` imports, anywhere in its body."""
    package = name if _is_package(name) else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            # `from pkg import sub` imports the module pkg.sub; `from mod import name` imports mod.
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        elif (  # importlib.import_module("runhive.x"): an import all the same, only later
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            targets = [node.args[0].value]
        else:
            continue
        out.update(t for t in targets if t in MODULES and t != name)
    return out


def _graph() -> dict[str, set[str]]:
    return {name: _imports(name, path) for name, path in MODULES.items() if not name.startswith(GENERATED)}


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_checker_sees_a_circle() -> None:
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _circles({"a": {"b"}, "b": set()}) == []


def test_no_import_circles() -> None:
    graph = _graph()
    assert len(graph) > 60, "the checker found too few modules: is it reading the tree?"
    assert any(graph.values()), "the checker found no imports at all"
    circles = _circles(graph)
    assert not circles, "import circles:\n" + "\n".join(
        " <-> ".join(c) + "\n    " + "\n    ".join(f"{m} -> {sorted(graph[m] & set(c))}" for m in c)
        for c in circles
    )


def test_no_module_over_800_lines() -> None:
    long = {
        name: n
        for name, path in MODULES.items()
        if not name.startswith(GENERATED) and (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"split these modules (lines): {long}"


def test_the_service_does_not_import_client_internals() -> None:
    """The daemon imports the client's shared rooms (`runhive.protocol`, `runhive.errors`) and its public API, never
    a private module of the SDK or the transport."""
    allowed = ("runhive.protocol", "runhive.errors", "runhive")
    bad = {
        name: sorted(t for t in targets if t.startswith("runhive.") and not t.startswith(allowed[:2]))
        for name, targets in _graph().items()
        if name.startswith("runhive_service")
    }
    bad = {k: v for k, v in bad.items() if v}
    assert not bad, f"service modules importing client internals: {bad}"


EXPECTED_ALL = {
    "Api",
    "Artifact",
    "Audio",
    "CommError",
    "ConfigError",
    "Error",
    "Histogram",
    "Html",
    "Image",
    "Molecule",
    "Object3D",
    "Plotly",
    "Run",
    "Settings",
    "Table",
    "UsageError",
    "Video",
    "__version__",
    "agent",
    "alert",
    "box3d",
    "config",
    "controller",
    "define_metric",
    "finish",
    "init",
    "link_model",
    "log",
    "log_artifact",
    "log_model",
    "login",
    "plot",
    "restore",
    "run",
    "save",
    "setup",
    "summary",
    "sweep",
    "teardown",
    "unwatch",
    "use_artifact",
    "use_model",
    "watch",
}


def test_public_surface_is_pinned() -> None:
    import runhive

    assert set(runhive.__all__) == EXPECTED_ALL, "runhive.__all__ changed: update this test and the README"
    for name in runhive.__all__:
        assert hasattr(runhive, name), name


@pytest.mark.parametrize(
    "room",
    [
        "runhive.sdk",
        "runhive.sdk.data_types",
        "runhive.sdk.artifacts",
        "runhive.apis.public",
        "runhive.sweeps",
        "runhive.cli",
        "runhive.plot",
        "runhive.integration",
        "runhive.protocol",
        "runhive.transport",
    ],
)
def test_every_room_names_its_public_surface(room: str) -> None:
    import importlib

    mod = importlib.import_module(room)
    assert isinstance(mod.__all__, list), f"{room} has no explicit __all__"
    for name in mod.__all__:
        assert getattr(mod, name) is not None, f"{room}.{name}"
