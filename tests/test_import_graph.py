"""The subpackages import each other in one direction only: each layer imports only the layers below it.

Every import statement counts, at module level or inside a function (a function-level import is
still a dependency); only ``if TYPE_CHECKING:`` blocks are left out. Imports of the root package's
own modules (``zeikan.errors``, ``zeikan.env_settings``...) are edges to ``zeikan``.
``python -m pytest tests/test_import_graph.py -q -s`` prints the graph.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

LAYERS: tuple[str, ...] = ("zeikan", "schemas", "features", "models", "images", "streams", "sim", "ui", "cli", "bench")
"""Bottom to top. ``ops`` (Prometheus queries) and every layer may use the root ``zeikan``."""

FOLDERS = {*LAYERS, "ops"}


def _target(module: str) -> str:
    """The subpackage (folder) a ``zeikan.*`` module lives in."""
    part = module.split(".")[1] if "." in module else "zeikan"
    return part if part in FOLDERS else "zeikan"


def _imports(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            found |= {m for sub in node.orelse for m in _imports(ast.Module(body=[sub], type_ignores=[]))}
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.split(".")[0] == "zeikan":
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "zeikan"}
        found |= _imports(node)
    return found


def import_graph() -> dict[str, set[str]]:
    """Subpackage -> the subpackages its modules import."""
    graph: dict[str, set[str]] = {}
    for folder in sorted(FOLDERS):
        edges: set[str] = set()
        for path in (ROOT / folder).rglob("*.py"):
            edges |= {_target(m) for m in _imports(ast.parse(path.read_text()))}
        graph[folder] = edges - {folder}
    return graph


def test_each_layer_imports_only_layers_below_it() -> None:
    graph = import_graph()
    for node in [*LAYERS, "ops"]:
        print(f"{node} -> {', '.join(sorted(graph[node], key=LAYERS.index)) or '-'}")
    upward = {(node, to) for node in LAYERS for to in graph[node] if to in LAYERS and LAYERS.index(to) > LAYERS.index(node)}
    assert upward == set()
    assert graph["ops"] <= {"zeikan"}
