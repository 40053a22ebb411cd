"""The import arrows of src/painpath, read from the source with ast (nothing is imported).

Edges (api, cds, fhir, store, audit, web, cli, workers) may use the engine only through its facade
`painpath.engine` and `painpath.engine.contract`; the engine reaches no edge; the facts know no FHIR;
durable_rules is behind one adapter; and no two modules import each other, directly or round a circle,
counting imports inside functions and under TYPE_CHECKING.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
ENGINE_API = {"painpath.engine", "painpath.engine.contract"}
# Engine submodules that edge code imports today, until the facade `painpath.engine` exports what they need.
# Temporary: the engine rewrite empties this set; do not add to it.
TRANSITIONAL: set[str] = set()
EDGES = ("api", "cds", "fhir", "store", "audit", "web", "cli", "workers")
# The top-level package `painpath` is the typed facade for Python users (`painpath.evaluate`, `painpath.Engine`):
# it may use only these, and no module of painpath imports it (so the facade can never close a circle).
FACADE_ALLOWED = {"painpath.version", "painpath.engine", "painpath.facts", "painpath.paths"}


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def import_graph(src: Path) -> dict[str, set[str]]:
    """Every module under `src/painpath` and the dotted names it imports (`from p import m` names p.m)."""
    files = {".".join(f.relative_to(src).with_suffix("").parts).removesuffix(".__init__"): f
             for f in (src / "painpath").rglob("*.py")}  # fmt: skip
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        graph[module] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                graph[module].update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]) if node.level else ""
                origin = ".".join(p for p in (base, node.module or "") if p)
                for alias in node.names:
                    graph[module].add(f"{origin}.{alias.name}" if f"{origin}.{alias.name}" in files else origin)
    return graph


def violations(src: Path) -> list[str]:
    """What breaks the arrows in the package tree under `src`, one line each (empty when none)."""
    graph = import_graph(src)
    found = []
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            if module == "painpath" and _within(target, "painpath") and target not in FACADE_ALLOWED:
                found.append(f"painpath (the top-level facade) imports {target}")
            if module != "painpath" and target == "painpath":
                found.append(f"{module} imports the top-level facade painpath (import painpath.version instead)")
            in_engine = _within(module, "painpath.engine")
            if not in_engine and _within(target, "painpath.engine") and target not in ENGINE_API | TRANSITIONAL:
                found.append(f"{module} imports engine internals {target}")
            if in_engine and any(_within(target, f"painpath.{edge}") for edge in EDGES):
                found.append(f"{module} (engine) imports the edge {target}")
            if _within(module, "painpath.facts") and (_within(target, "fhir") or _within(target, "painpath.fhir")):
                found.append(f"{module} (facts) imports FHIR {target}")
            durable = any(_within(target, name) for name in ("durable", "durable_rules", "durable_rules_engine"))
            if durable and module != "painpath.engine.durable_adapter":
                found.append(f"{module} imports {target} (only engine.durable_adapter may)")
    found.extend(f"import circle: {circle}" for circle in _circles(graph))
    return found


def _circles(graph: dict[str, set[str]]) -> list[str]:
    """The modules that import each other round a circle, one sorted group per circle."""
    reach = {module: _reachable(graph, module) for module in graph}
    groups = {tuple(sorted(n for n in reach[m] if m in reach[n])) for m in graph if m in reach[m]}
    return [" <-> ".join(group) for group in sorted(groups)]


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph[start])
    while todo:
        if (module := todo.pop()) in graph and module not in seen:
            seen.add(module)
            todo.extend(graph[module])
    return seen


def test_the_source_tree_keeps_its_arrows() -> None:
    assert violations(SRC) == []


def test_every_transitional_engine_import_is_still_used() -> None:
    """An entry nobody imports any more leaves TRANSITIONAL, so the set only shrinks."""
    graph = import_graph(SRC)
    used = {t for m, targets in graph.items() if not _within(m, "painpath.engine") for t in targets}
    assert TRANSITIONAL - used == set()


def test_the_checker_reports_planted_violations(tmp_path: Path) -> None:
    files = {
        "__init__.py": "",
        "engine/__init__.py": "",
        "engine/contract.py": "",
        "engine/strata.py": "from painpath.api import app\n",
        "facts/__init__.py": "import fhir.resources.patient\n",
        "api/__init__.py": "",
        "api/app.py": "from painpath.engine import strata\nimport durable_rules_engine\n",
        "audit/__init__.py": "",
        "audit/a.py": "def f():\n    from . import b\n",
        "audit/b.py": "from painpath.audit.a import f\nfrom painpath.engine.contract import X\n",
    }
    for name, text in files.items():
        (tmp_path / "painpath" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "painpath" / name).write_text(text, encoding="utf-8")
    assert violations(tmp_path) == [
        "painpath.api.app imports durable_rules_engine (only engine.durable_adapter may)",
        "painpath.api.app imports engine internals painpath.engine.strata",
        "painpath.engine.strata (engine) imports the edge painpath.api.app",
        "painpath.facts (facts) imports FHIR fhir.resources.patient",
        "import circle: painpath.api.app <-> painpath.engine.strata",
        "import circle: painpath.audit.a <-> painpath.audit.b",
    ]


def test_the_checker_reports_facade_violations(tmp_path: Path) -> None:
    """Issue 16: the top-level facade imports only the engine and facts facades, paths and version."""
    files = {
        "__init__.py": "from painpath.engine import Engine\nfrom painpath.api import app\n",
        "version.py": "",
        "engine/__init__.py": "from painpath import __version__\n",
        "engine/contract.py": "",
        "api/__init__.py": "",
        "api/app.py": "",
    }
    for name, text in files.items():
        (tmp_path / "painpath" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "painpath" / name).write_text(text, encoding="utf-8")
    assert violations(tmp_path) == [
        "painpath (the top-level facade) imports painpath.api.app",
        "painpath.engine imports the top-level facade painpath (import painpath.version instead)",
        "import circle: painpath <-> painpath.engine",
    ]
