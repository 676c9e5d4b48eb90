"""No import cycle inside the refarch package, counting imports inside functions too.

A function-level import hides a cycle from Python until the function runs (refarch.cli and
refarch.local.demo once imported each other that way), so the graph is read from the source
with ast: every `import` and `from ... import` statement anywhere in a module, including
those under `if TYPE_CHECKING:` (a layering cycle even when it never runs).
"""

from __future__ import annotations

import ast
from pathlib import Path

import refarch

Graph = dict[str, set[str]]


def module_names(root: Path, package: str) -> dict[str, Path]:
    """Dotted name -> source file of every module of the package rooted at `root`."""
    names = {}
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, known: set[str]) -> set[str]:
    """The package's modules one import statement names (the deepest existing module of each)."""
    if isinstance(node, ast.Import):
        candidates = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:   # relative: from the module's package, one level up per extra dot
            anchor = module.split(".") if is_package else module.split(".")[:-1]
            anchor = anchor[:len(anchor) - (node.level - 1)]
            base = ".".join(anchor + ([base] if base else []))
        # `from a import b` imports the module a.b when there is one, else a name from a.
        candidates = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
    found = set()
    for name in candidates:
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name:
            found.add(name)
    return found


def import_graph(root: Path, package: str) -> Graph:
    """Module -> the package's modules it imports, at module level or inside any function."""
    modules = module_names(root, package)
    known = set(modules)
    graph: Graph = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        targets: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                targets |= _imported(node, module, path.name == "__init__.py", known)
        graph[module] = targets - {module}
    return graph


def cycles(graph: Graph) -> list[list[str]]:
    """Every group of modules that import each other, directly or through others (Tarjan's
    strongly connected components of more than one module), each in sorted order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in sorted(graph.get(module, ())):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(found)


def test_the_refarch_package_has_no_import_cycle():
    root = Path(refarch.__file__).parent
    graph = import_graph(root, "refarch")
    assert "refarch.local.demo" in graph and "refarch.cli" in graph   # the graph read the whole package
    assert cycles(graph) == []


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "pkg"
    for relative, text in {"__init__.py": "", **files}.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_a_cycle_through_a_function_level_import_is_found(tmp_path):
    # The shape refarch.cli <-> refarch.local.demo had: one side imports the other inside a function.
    root = _package(tmp_path, {
        "cli.py": "from pkg.sub.demo import run_demo\n",
        "sub/__init__.py": "",
        "sub/demo.py": "def run_demo():\n    from pkg.cli import print_table\n    print_table()\n",
    })
    graph = import_graph(root, "pkg")
    assert graph["pkg.cli"] == {"pkg.sub.demo"}
    assert graph["pkg.sub.demo"] == {"pkg.cli"}
    assert cycles(graph) == [["pkg.cli", "pkg.sub.demo"]]


def test_a_longer_cycle_through_relative_and_module_imports_is_found(tmp_path):
    root = _package(tmp_path, {
        "a.py": "from . import b\n",                        # the module pkg.b
        "b.py": "import pkg.sub.c as c\n",
        "sub/__init__.py": "",
        "sub/c.py": "if True:\n    from ..a import thing\n",   # a name from pkg.a
        "d.py": "from pkg.a import thing\n",                 # imports into the cycle, is not in it
    })
    graph = import_graph(root, "pkg")
    assert graph["pkg.a"] == {"pkg.b"} and graph["pkg.sub.c"] == {"pkg.a"}
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.sub.c"]]


def test_imports_in_one_direction_are_no_cycle(tmp_path):
    root = _package(tmp_path, {
        "render.py": "import json\n",
        "cli.py": "from pkg.render import table\nfrom pkg.demo import run_demo\n",
        "demo.py": "def run_demo():\n    from pkg.render import table\n",
    })
    graph = import_graph(root, "pkg")
    assert graph == {"pkg": set(), "pkg.render": set(), "pkg.cli": {"pkg.render", "pkg.demo"},
                     "pkg.demo": {"pkg.render"}}
    assert cycles(graph) == []
