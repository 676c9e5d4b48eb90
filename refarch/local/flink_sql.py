"""What every local run of a Flink SQL job (jobs/flink/<job>) shares: the deployed entry point
(jobs/flink/main.py, imported by path), the watermark bound a job's DDL declares, and a streaming
TableEnvironment. Each job's own local run is its module: refarch/local/adtech_job.py and
refarch/local/streaming_log_job.py.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable
from importlib.util import module_from_spec, spec_from_file_location
from types import ModuleType
from typing import Any

from refarch.paths import JOBS_ROOT

FLINK_JOBS = JOBS_ROOT / "flink"
WATERMARK = re.compile(r"WATERMARK\s+FOR\s+\w+\s+AS\s+\w+\s*-\s*INTERVAL\s+'(\d+)'\s+SECOND", re.IGNORECASE)


def load_entry() -> ModuleType:
    """jobs/flink/main.py, imported by path (it is deployed as a file, not a package)."""
    path = FLINK_JOBS / "main.py"
    spec = spec_from_file_location("refarch_flink_main", path)
    if spec is None or spec.loader is None or not path.is_file():
        raise FileNotFoundError(f"no Flink entry {path} (is refarch installed from its source tree?)")
    module = module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def watermark_bound_seconds(ddl: Iterable[str]) -> int:
    """The bound of the source's WATERMARK clause."""
    bounds = {int(m.group(1)) for statement in ddl for m in WATERMARK.finditer(statement)}
    if len(bounds) != 1:
        raise ValueError(f"expected one watermark bound in the job's DDL, found {sorted(bounds)}")
    return bounds.pop()


def _table_env() -> Any:
    try:
        from pyflink.table import EnvironmentSettings, TableEnvironment
    except ImportError as missing:
        raise RuntimeError("PyFlink is not installed: pip install 'apache-flink==1.20.*' (needs Java 11 or 17)") from missing
    with warnings.catch_warnings():  # apache-beam 2.48 (PyFlink's) warns that pkg_resources is deprecated
        warnings.simplefilter("ignore")
        return TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
