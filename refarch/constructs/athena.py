"""An Athena workgroup with enforced, encrypted results and named queries from .sql files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Stack
from aws_cdk import aws_athena as athena
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

MIN_CUTOFF_BYTES = 10 * 1024 * 1024  # the smallest per-query limit Athena accepts (10 MB)


@dataclass(frozen=True)
class NamedQuery:
    name: str
    description: str
    sql: str


def read_named_queries(folder: Path) -> list[NamedQuery]:
    """One query per `<name>.sql`; the first `--` comment line is its description."""
    queries = []
    for path in sorted(folder.glob("*.sql")):
        text = path.read_text().strip()
        comments = [line[2:].strip() for line in text.splitlines() if line.startswith("--")]
        if not comments:
            raise ValueError(f"{path}: start the file with a -- comment describing the query")
        queries.append(NamedQuery(path.stem, comments[0][:1024], text))
    if not queries:
        raise ValueError(f"no .sql files in {folder}")
    return queries


class AthenaWorkgroup(Construct):
    """Engine v3; settings enforced on every query; results KMS-encrypted in `results_bucket`."""

    def __init__(self, scope: Construct, id: str, *, results_bucket: s3.IBucket, key: kms.IKey,
                 bytes_scanned_cutoff: int, database: str, queries_folder: Path,
                 results_prefix: str = "results/") -> None:
        super().__init__(scope, id)
        if bytes_scanned_cutoff < MIN_CUTOFF_BYTES:
            raise ValueError(f"AthenaWorkgroup bytes_scanned_cutoff={bytes_scanned_cutoff!r}: "
                             f"allowed {MIN_CUTOFF_BYTES} or more")
        self.name = f"{Stack.of(self).stack_name}-{id}"
        self.workgroup = athena.CfnWorkGroup(
            self, "WorkGroup", name=self.name, state="ENABLED", recursive_delete_option=True,
            description="refarch lake queries: enforced settings, encrypted results, scan cutoff",
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=bytes_scanned_cutoff,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                    selected_engine_version="Athena engine version 3"),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{results_bucket.bucket_name}/{results_prefix}",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_KMS", kms_key=key.key_arn))))
        self.named_queries = {}
        for query in read_named_queries(queries_folder):
            named = athena.CfnNamedQuery(self, f"Query-{query.name}", name=query.name,
                                         description=query.description, database=database,
                                         query_string=query.sql, work_group=self.workgroup.ref)
            self.named_queries[query.name] = named
