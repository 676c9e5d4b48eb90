"""Copy construct modules out of the repository, each alone with its helpers, and synthesize
them in a fresh CDK app where the repository cannot be imported (tests/construct_copy_app.py).

Used by tests/test_construct_copies.py; the catalogue (docs/constructs.md) holds each
module's minimal use, which is what the copy runs.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from refarch.node import node_bin_dir
from refarch.paths import PROJECT_ROOT

PACKAGE = "refarch.constructs"
CONSTRUCTS = PROJECT_ROOT / "refarch" / "constructs"
CATALOGUE = PROJECT_ROOT / "docs" / "constructs.md"
APP = Path(__file__).with_name("construct_copy_app.py")
_PACKAGE_NAME = re.compile(r"\brefarch\.constructs\b")


def modules(package: Path = CONSTRUCTS) -> list[str]:
    return sorted(p.stem for p in package.glob("*.py") if p.stem != "__init__")


def imported_helpers(package: Path, module: str) -> set[str]:
    """The modules of the package that `module` imports, directly (anywhere in the file)."""
    found = set()
    for node in ast.walk(ast.parse((package / f"{module}.py").read_text())):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [f"{node.module}.{a.name}" for a in node.names] if isinstance(node, ast.ImportFrom) and node.module else []
        for name in names:
            if name.startswith(PACKAGE + "."):
                helper = name.removeprefix(PACKAGE + ".").split(".")[0]
                if (package / f"{helper}.py").is_file():
                    found.add(helper)
    return found - {module}


def import_closure(package: Path, module: str) -> list[str]:
    """`module` and every module of the package it needs, transitively."""
    closure, todo = set(), [module]
    while todo:
        current = todo.pop()
        if current not in closure:
            closure.add(current)
            todo += imported_helpers(package, current)
    return sorted(closure)


def copy_alone(package: Path, module: str, folder: Path, name: str) -> list[str]:
    """Copy `module` with its closure into `folder/<name>/`, importing each other as `name`
    instead of refarch.constructs (as a user copying them into their own package would).
    Nothing else is copied: an import of anything else of the repository stays as written."""
    target = folder / name
    target.mkdir(parents=True)
    (target / "__init__.py").write_text('"""Constructs copied from refarch."""\n')
    closure = import_closure(package, module)
    for member in closure:
        source = (package / f"{member}.py").read_text()
        (target / f"{member}.py").write_text(_PACKAGE_NAME.sub(name, source))
    return closure


@dataclass(frozen=True)
class Copy:
    module: str
    package: str
    folder: Path
    snippet: str   # the minimal use, importing from `package`


def run_copies(copies: list[Copy], workdir: Path, timeout: int = 600) -> dict[str, Any]:
    """Synthesize every copy's minimal use in one fresh app run from `workdir` (outside the
    repository), by the venv's Python with nothing of the repository on its path."""
    workdir.mkdir(parents=True, exist_ok=True)
    app = workdir / "app.py"
    shutil.copyfile(APP, app)
    config = {
        "site_packages": sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}),
        "outdir": str(workdir / "cdk.out"), "files": str(workdir / "files"),
        "results": str(workdir / "results.json"),
        "modules": [{"module": c.module, "folder": str(c.folder), "snippet": c.snippet} for c in copies],
    }
    (workdir / "config.json").write_text(json.dumps(config, indent=1))
    node = node_bin_dir()
    env = {"PATH": f"{node}{os.pathsep}/usr/bin:/bin", "HOME": os.environ.get("HOME", str(workdir)),
           "JSII_NODE": str(node / "node"), "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
           "TMPDIR": str(workdir)}
    # -S: no site-packages .pth files (the venv's editable install of refarch is one);
    # -E: no PYTHON* variables. The app puts only site-packages and the copies on sys.path.
    result = subprocess.run([sys.executable, "-S", "-E", str(app), str(workdir / "config.json")],
                            cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"the copy app failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    results = json.loads((workdir / "results.json").read_text())
    results["outdir"] = workdir / "cdk.out"
    return results


def template(results: dict[str, Any], stack: str) -> dict[str, Any]:
    return json.loads((results["outdir"] / f"{stack}.template.json").read_text())


def changes_to_what_it_was_given(results: dict[str, Any], module: str) -> list[str]:
    """What the last statement of `module`'s minimal use changed in what existed before it:
    a resource whose template differs, a resource added under a construct that existed, or
    metadata (acknowledgements, skips) added to a construct that existed."""
    entry = results["modules"][module]
    old = _normalized(template(results, entry["reference"]).get("Resources", {}), entry["reference"])
    new = _normalized(template(results, entry["subject"]).get("Resources", {}), entry["subject"])
    old_paths = _normalized(entry["reference_paths"], entry["reference"])
    new_paths = _normalized(entry["subject_paths"], entry["subject"])
    existing = [c for c in entry["reference_constructs"] if c]
    changes = []
    for logical_id, resource in old.items():
        if resource != new.get(logical_id):
            changes.append(f"{old_paths[logical_id]}: changed")
    for logical_id in new.keys() - old.keys():
        path = new_paths[logical_id]
        owner = next((c for c in existing if path.startswith(c + "/")), None)
        if owner is not None:
            changes.append(f"{path}: added under {owner}")
    for path, metadata in entry["reference_constructs"].items():
        if entry["subject_constructs"].get(path) != metadata:
            changes.append(f"{path}: metadata {metadata} became {entry['subject_constructs'].get(path)}")
    return changes


def _normalized(value: dict[str, Any], stack: str) -> dict[str, Any]:
    """`value` with its stack's name (in tags, names, ids derived from them) made neutral."""
    return json.loads(re.sub(re.escape(stack), "<stack>", json.dumps(value), flags=re.IGNORECASE))


# The catalogue -----------------------------------------------------------------------

_SECTION = re.compile(r"^## `(?P<module>\w+)\.py`", re.MULTILINE)
_SNIPPET = re.compile(r"```python\n(?P<code>.*?)```", re.DOTALL)


def catalogue_sections(text: str | None = None) -> dict[str, str]:
    """Module -> its section of docs/constructs.md (headed "## `<module>.py` ...")."""
    text = CATALOGUE.read_text() if text is None else text
    starts = list(_SECTION.finditer(text))
    return {m["module"]: text[m.start():(starts[i + 1].start() if i + 1 < len(starts) else len(text))]
            for i, m in enumerate(starts)}


def minimal_use(section: str) -> str:
    """The first Python block of a catalogue section: imports, then the statement(s)."""
    found = _SNIPPET.search(section)
    if found is None:
        raise ValueError(f"no ```python block in {section.splitlines()[0]}")
    return found["code"]


def as_copied(snippet: str, package: str) -> str:
    return _PACKAGE_NAME.sub(package, snippet)
