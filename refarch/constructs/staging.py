"""Asset folders assembled from files that live apart in the repository (a function and
the SQL it runs; a Flink job and the shared entry point), named by their content so an
asset changes only when a file does.

A staged folder is what CDK zips and deploys, so it is never trusted because it exists:
it lives in the app's own output folder (cdk.out, or the folder the app was given), in a
`staging/` folder only this user may write, never at a shared, predictable temporary path
another user could fill first; and before it is reused its files are checked against the
sources, byte for byte; a folder that differs is rebuilt.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from aws_cdk import Stage
from constructs import IConstruct


def staging_root(scope: IConstruct) -> Path:
    """`staging/` in the output folder of `scope`'s app, where its assets are written too."""
    return Path(Stage.of(scope).asset_outdir) / "staging"


def stage(name: str, files: Sequence[tuple[Path, Path]], *, root: Path) -> Path:
    """A folder holding each (relative path, source file) pair; built once per content."""
    expected = {Path(relative): _sha256(source) for relative, source in files}
    digest = hashlib.sha256()
    for relative, source in files:
        digest.update(str(relative).encode())
        digest.update(expected[Path(relative)].encode())
    root = private_root(root)
    staged = root / f"{name}-{digest.hexdigest()[:16]}"
    if staged.exists() and not _holds_exactly(staged, expected):
        shutil.rmtree(staged)  # tampered with or half-removed: rebuild, never reuse
    if not staged.exists():
        building = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
        for relative, source in files:
            (building / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, building / relative)
        try:
            building.rename(staged)  # complete or absent, never half-written
        except OSError:  # another process staged the same content meanwhile
            shutil.rmtree(building, ignore_errors=True)
            if not _holds_exactly(staged, expected):
                raise RuntimeError(f"{staged}: staged by someone else with other content") from None
    return staged


def private_root(root: Path) -> Path:
    """`root`, created mode 0700, and refused if another user owns it or may write it."""
    root = Path(root)
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = root.lstat()
    if stat.S_ISLNK(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise RuntimeError(f"{root}: not a private folder of this user (owner {info.st_uid}, mode "
                           f"{stat.filemode(info.st_mode)}); remove it")
    return root


def _holds_exactly(folder: Path, expected: dict[Path, str]) -> bool:
    present = {path.relative_to(folder) for path in folder.rglob("*") if not path.is_dir()}
    return present == set(expected) and all(
        (folder / relative).is_file() and not (folder / relative).is_symlink()
        and _sha256(folder / relative) == sha for relative, sha in expected.items())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def source_files(folder: Path, under: Path = Path(".")) -> list[tuple[Path, Path]]:
    """The files of `folder` (no bytecode caches), as (`under`/relative path, file) pairs."""
    if not folder.is_dir():
        raise ValueError(f"{folder}: not a folder")
    return [(under / path.relative_to(folder), path) for path in _files(folder.rglob("*"))]


def _files(paths: Iterable[Path]) -> list[Path]:
    return sorted(p for p in paths if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")
