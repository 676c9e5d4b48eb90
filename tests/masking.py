"""Masking for template snapshots: asset hashes change with handler code, infrastructure does not."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from syrupy.extensions.json import JSONSnapshotExtension

# CDK names assets by the SHA-256 of their content: in S3 keys ("<hash>.zip"), asset
# metadata ("asset.<hash>") and the asset manifest.
ASSET_HASH = re.compile(r"[0-9a-f]{64}")
MASK = "<asset-hash>"
SNAPSHOT_DIR = Path(__file__).parent / "snapshots"


def mask_asset_hashes(value: Any) -> Any:
    """A copy of a template with every asset hash replaced by a fixed marker."""
    if isinstance(value, dict):
        return {mask_asset_hashes(k): mask_asset_hashes(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_asset_hashes(v) for v in value]
    if isinstance(value, str):
        return ASSET_HASH.sub(MASK, value)
    return value


class TemplateSnapshot(JSONSnapshotExtension):
    """JSON snapshots kept together under tests/snapshots/."""

    @classmethod
    def dirname(cls, *, test_location) -> str:
        return str(SNAPSHOT_DIR)

    @classmethod
    def discovery_dirname(cls, *, test_location) -> str:
        return str(SNAPSHOT_DIR)
