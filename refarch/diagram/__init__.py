"""Architecture diagrams generated from the synthesized templates (`refarch diagram`).

One Markdown page per stack under docs/architecture/, holding a Mermaid flowchart of
the stack's data path; a test regenerates them and fails when the committed pages are
stale. graph.py and build.py read the data path out of the templates, mermaid.py draws it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from refarch.diagram.build import build_data_path
from refarch.diagram.graph import DataPath, Templates
from refarch.diagram.mermaid import markdown
from refarch.paths import PROJECT_ROOT

DOCS = PROJECT_ROOT / "docs" / "architecture"


def data_paths(templates: Mapping[str, dict[str, Any]], stack_names: Mapping[str, str]) -> dict[str, DataPath]:
    """Each stack's data path; `stack_names` maps a stack's id to its CloudFormation name."""
    resolved = Templates(templates, stack_names)
    return {stack: build_data_path(resolved, stack) for stack in templates}


def pages(templates: Mapping[str, dict[str, Any]], stack_names: Mapping[str, str],
          summaries: Mapping[str, str] | None = None) -> dict[str, str]:
    """File name -> Markdown page, one per stack."""
    return {f"{stack}.md": markdown(path, (summaries or {}).get(stack, ""))
            for stack, path in data_paths(templates, stack_names).items()}


def pages_for(synthesis) -> dict[str, str]:
    """The pages of a synthesized app (refarch.synthesis.Synthesis)."""
    from refarch.patterns import PATTERNS

    summaries = {p.name: p.summary + "." for p in PATTERNS}
    templates = {name: synthesis.template(name) for name in synthesis.stacks}
    names = {name: stack.stack_name for name, stack in synthesis.stacks.items()}
    return pages(templates, names, summaries)


def write_pages(rendered: Mapping[str, str], folder: Path = DOCS) -> list[Path]:
    """Write the pages, removing pages of stacks that no longer exist."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.md"):
        if old.name not in rendered:
            old.unlink()
    written = []
    for name, text in sorted(rendered.items()):
        path = folder / name
        path.write_text(text)
        written.append(path)
    return written


def stale_pages(rendered: Mapping[str, str], folder: Path = DOCS) -> list[str]:
    """Pages that are missing, differ from `rendered`, or belong to no stack."""
    present = {p.name for p in folder.glob("*.md")} if folder.is_dir() else set()
    stale = [name for name, text in rendered.items()
             if name not in present or (folder / name).read_text() != text]
    return sorted(stale + [name for name in present if name not in rendered])
