"""Import a module of a Lambda function (lambda/<function>/<module>.py) into this process.

Used where the project needs a fact that the function itself declares (a schema, column
list) or runs a handler locally. `lambda` is a Python keyword, so the folders are not a
package; module names are unique across functions, so two functions never mix.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

from refarch.paths import LAMBDA_ROOT


def load_lambda_module(function: str, module: str) -> ModuleType:
    folder = LAMBDA_ROOT / function
    if not (folder / f"{module}.py").is_file():
        raise FileNotFoundError(f"no module {module}.py in Lambda function folder {folder}")
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    return importlib.import_module(module)
