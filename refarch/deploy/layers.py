"""The content of the AWS-managed Powertools layer, rebuilt from PyPI for LocalStack.

AWS publishes Powertools for AWS Lambda (Python) as a public layer; LocalStack's free edition
cannot fetch it. We build the same content: the pinned `aws-lambda-powertools` for the layer's
Python version and architecture, under `python/` (where the runtime looks in /opt). The zip is
kept in the project's `.localstack/layers/` (not a shared temporary folder) and rebuilt when
the pin changes.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from refarch.paths import PROJECT_ROOT

# The account AWS publishes the Powertools layers under.
POWERTOOLS_ACCOUNT = "017000801446"
# For a layer referenced by ARN, whose release the ARN does not say: the dev pin in
# pyproject.toml, the version the tests run the handlers on.
POWERTOOLS_VERSION = "3.37.0"
LAYERS_DIR = PROJECT_ROOT / ".localstack" / "layers"
POWERTOOLS_LAYER_NAME = re.compile(r"^AWSLambdaPowertoolsPythonV3-python(?P<major>3)(?P<minor>\d+)-(?P<arch>x86_64|arm64)$")
PLATFORMS = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}


def powertools_layer_zip(layer_name: str, release: str = POWERTOOLS_VERSION) -> Path:
    """The zip of Powertools `release` for `layer_name` (e.g.
    AWSLambdaPowertoolsPythonV3-python313-x86_64), built once."""
    match = POWERTOOLS_LAYER_NAME.match(layer_name)
    if not match:
        raise ValueError(f"layer {layer_name!r}: only the AWS-managed Powertools (Python, V3) layers "
                         "can be rebuilt for LocalStack")
    target = LAYERS_DIR / f"{layer_name}-{release}.zip"
    if target.exists():
        return target
    LAYERS_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=LAYERS_DIR) as work:
        site = Path(work) / "content" / "python"
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "--target", str(site), "--only-binary=:all:", "--implementation", "cp",
             "--python-version", f"{match['major']}.{match['minor']}",
             "--platform", PLATFORMS[match["arch"]], f"aws-lambda-powertools=={release}"],
            check=True)
        for cache in site.rglob("__pycache__"):
            shutil.rmtree(cache, ignore_errors=True)
        built = shutil.make_archive(str(Path(work) / "layer"), "zip", root_dir=Path(work) / "content")
        Path(built).replace(target)  # atomic: a half-built zip is never reused
    return target
