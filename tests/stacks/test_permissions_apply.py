"""Every grant can apply, and no role holds a grant nothing uses (issue 11, item 6)."""

from __future__ import annotations

import pytest

from refarch.iam_conditions import condition_problems
from refarch.patterns import PATTERN_NAMES


def statements_of(template: dict, logical_prefix: str) -> list[dict]:
    return [s for key, resource in template["Resources"].items()
            if resource["Type"] == "AWS::IAM::Policy" and key.startswith(logical_prefix)
            for s in resource["Properties"]["PolicyDocument"]["Statement"]]


def actions(statement: dict) -> list[str]:
    return [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]


@pytest.mark.parametrize("stack", PATTERN_NAMES)
def test_no_role_names_a_condition_its_actions_never_carry(synthesis, stack):
    assert [p.message for p in condition_problems(synthesis.template(stack))] == []


def test_lake_reader_lists_only_its_prefixes_and_may_locate_the_bucket(synthesis):
    statements = statements_of(synthesis.template("RedshiftWarehouse"), "LakeReader")
    (listing,) = [s for s in statements if "s3:ListBucket" in actions(s)]
    assert actions(listing) == ["s3:ListBucket"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": [
        "trades/*", "trades_rejected/*", "_quality/refarch-dev-BatchDataLake-CurateTrades/*"]}}   # + the runs' manifests
    (location,) = [s for s in statements if "s3:GetBucketLocation" in actions(s)]
    assert "Condition" not in location and actions(location) == ["s3:GetBucketLocation"]


def test_the_etl_job_role_has_no_catalog_grant(synthesis):
    # The script reads and writes S3 paths with plain Spark; only the crawlers use the catalog.
    etl = statements_of(synthesis.template("BatchDataLake"), "CurateTradesRole")
    assert etl and not [a for s in etl for a in actions(s) if a.startswith("glue:")]
    crawler = statements_of(synthesis.template("BatchDataLake"), "RawCrawlerRole")
    assert {"glue:CreateTable", "glue:BatchCreatePartition"} <= {a for s in crawler for a in actions(s)}


@pytest.mark.parametrize("stack", PATTERN_NAMES)
def test_no_role_is_granted_get_security_configuration_on_catalog_arns(synthesis, stack):
    # It takes no resource ARN, so a grant scoped to the catalog never applied.
    granted = [a for s in statements_of(synthesis.template(stack), "") for a in actions(s)]
    assert "glue:GetSecurityConfiguration" not in granted
