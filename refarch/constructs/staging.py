"""Asset folders assembled from files that live apart in the repository (a function and
the SQL it runs; a Flink job and the shared entry point), named by their content so an
asset changes only when a file does."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path


def stage(name: str, files: Sequence[tuple[Path, Path]]) -> Path:
    """A folder holding each (relative path, source file) pair; built once per content."""
    digest = hashlib.sha256()
    for relative, source in files:
        digest.update(str(relative).encode())
        digest.update(source.read_bytes())
    staged = Path(tempfile.gettempdir()) / "refarch-assets" / f"{name}-{digest.hexdigest()[:16]}"
    if not staged.exists():
        building = staged.with_suffix(".building")
        shutil.rmtree(building, ignore_errors=True)
        for relative, source in files:
            (building / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, building / relative)
        building.rename(staged)  # complete or absent, never half-written
    return staged


def source_files(folder: Path, under: Path = Path(".")) -> list[tuple[Path, Path]]:
    """The files of `folder` (no bytecode caches), as (`under`/relative path, file) pairs."""
    if not folder.is_dir():
        raise ValueError(f"{folder}: not a folder")
    return [(under / path.relative_to(folder), path) for path in _files(folder.rglob("*"))]


def _files(paths: Iterable[Path]) -> list[Path]:
    return sorted(p for p in paths if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")
