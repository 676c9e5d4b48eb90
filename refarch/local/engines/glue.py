"""A Glue job run locally: its script (jobs/glue/<job>.py, which Glue runs as a file, not from a
package) imported as a module, so its `main` runs with Glue-style arguments on local Spark."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from refarch.paths import JOBS_ROOT

ETL_SCRIPT = JOBS_ROOT / "glue" / "trades_etl.py"


def load_etl_job() -> ModuleType:
    """jobs/glue/trades_etl.py as a module (jobs/ is not a package: Glue runs the file)."""
    name = "glue_trades_etl"
    loaded = sys.modules.get(name)
    if loaded is not None and Path(loaded.__file__ or "") == ETL_SCRIPT:
        return loaded
    if not ETL_SCRIPT.is_file():
        raise FileNotFoundError(f"no Glue job script {ETL_SCRIPT} (is refarch installed from its source tree?)")
    spec = importlib.util.spec_from_file_location(name, ETL_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module         # dataclasses look their module up while it executes
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module
