"""Which curated files a load copies: the COPY manifest of one run of the lake's ETL job.

Each run of jobs/glue/trades_etl.py writes `<prefix><run id>.manifest` in the curated bucket
(prefix: `_quality/<job name>/`): a Redshift COPY manifest of the Parquet files in the trade
dates that run wrote, empty when it wrote none. The loader copies exactly that manifest, so a
load costs what the run changed, not the lake's history, and its delete-then-insert of those
dates makes a repeated load change nothing. Which run:

  a Glue "Job State Change" event (SUCCEEDED)   that run: detail.jobRunId
  {"run_id": "jr_..."}                          that run (e.g. a backfill run, loaded by hand)
  anything else ({}, a scheduled event)         the newest manifest under the prefix

Pure except for the S3 client it is given (GetObject, ListObjectsV2).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

RUN_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,255}$")
TRADE_DATE = re.compile(r"/trade_date=([0-9]{4}-[0-9]{2}-[0-9]{2})/")


class ManifestError(ValueError):
    """The event names no usable run, or the run's manifest is missing or malformed."""


@dataclass(frozen=True)
class LoadManifest:
    url: str                      # s3://bucket/key: what COPY ... MANIFEST reads
    files: int
    trade_dates: tuple[str, ...]  # the dates the run wrote (the ones this load replaces)

    def as_dict(self) -> dict[str, Any]:
        return {"url": self.url, "files": self.files, "trade_dates": list(self.trade_dates)}


def run_id_of(event: Any) -> str | None:
    """The ETL run an event names, or None for "the newest run"."""
    if not isinstance(event, Mapping):
        return None
    if event.get("source") == "aws.glue" and isinstance(event.get("detail"), Mapping):
        run_id = event["detail"].get("jobRunId")
    else:
        run_id = event.get("run_id")
    if run_id is None:
        return None
    if not isinstance(run_id, str) or not RUN_ID.fullmatch(run_id):
        raise ManifestError(f"run id {run_id!r}: expected a Glue job run id such as jr_0123abcd")
    return run_id


def parse_manifest(url: str, text: str, bucket: str) -> LoadManifest:
    """Check a manifest: every entry a mandatory Parquet file of the curated trades, with its size."""
    try:
        entries = json.loads(text)["entries"]
    except (ValueError, KeyError, TypeError):
        raise ManifestError(f"{url} is not a COPY manifest (expected JSON with an entries list)") from None
    dates = set()
    for entry in entries:
        location = entry.get("url", "") if isinstance(entry, Mapping) else ""
        size = (entry.get("meta") or {}).get("content_length") if isinstance(entry, Mapping) else None
        match = TRADE_DATE.search(location)
        if not location.startswith(f"s3://{bucket}/trades/") or match is None or not isinstance(size, int):
            raise ManifestError(f"{url}: entry {entry!r} is not a curated trades file with its content_length")
        dates.add(match.group(1))
    return LoadManifest(url, len(entries), tuple(sorted(dates)))


class S3Manifests:
    """The manifests under `prefix` in the curated `bucket`."""

    def __init__(self, s3: Any, bucket: str, prefix: str) -> None:
        self.s3, self.bucket, self.prefix = s3, bucket, prefix

    def for_event(self, event: Any) -> LoadManifest | None:
        """The manifest to load for `event`; None when no run has written one yet."""
        run_id = run_id_of(event)
        key = f"{self.prefix}{run_id}.manifest" if run_id else self._newest()
        if key is None:
            return None
        url = f"s3://{self.bucket}/{key}"
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            raise ManifestError(f"{url} does not exist: the run wrote no manifest (did it succeed?)") from None
        return parse_manifest(url, body.decode("utf-8"), self.bucket)

    def _newest(self) -> str | None:
        newest = None
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix):
            for item in page.get("Contents", []):
                if item["Key"].endswith(".manifest") and (newest is None or item["LastModified"] > newest["LastModified"]):
                    newest = item
        return None if newest is None else newest["Key"]
