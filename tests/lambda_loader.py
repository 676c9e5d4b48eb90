"""Import a Lambda function's modules from lambda/<function>/ (a folder, not a package:
`lambda` is a Python keyword). Module names are unique across functions, so loading
two functions in one session never mixes them up."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

LAMBDA_ROOT = Path(__file__).resolve().parent.parent / "lambda"


def load(function: str, module: str) -> ModuleType:
    folder = LAMBDA_ROOT / function
    if not folder.is_dir():
        raise FileNotFoundError(f"no Lambda function folder {folder}")
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    return importlib.import_module(module)
