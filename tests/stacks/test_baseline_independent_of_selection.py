"""The baseline's template does not depend on which patterns are selected (issue 11, item 3).

Deploying the baseline for one pattern (`patterns=IotTelemetry`) must not remove what the
other deployed patterns rely on: their log delivery, key grants or imported exports.
"""

from __future__ import annotations

import pytest

from refarch.patterns import BASELINE
from refarch.synthesis import synthesize
from tests.conftest import NO_AWS_ENV


def log_delivery_statements(template: dict) -> list[dict]:
    (policy,) = [r for k, r in template["Resources"].items()
                 if r["Type"] == "AWS::S3::BucketPolicy" and k.startswith("AccessLogs")]
    return [s for s in policy["Properties"]["PolicyDocument"]["Statement"]
            if s.get("Principal") == {"Service": "logging.s3.amazonaws.com"}]


@pytest.mark.parametrize("selection", ["SecurityBaseline", "IotTelemetry"])
def test_the_baseline_template_is_identical_whatever_is_selected(synthesis, tmp_path, selection):
    selected = synthesize({"patterns": selection}, outdir=str(tmp_path), environ=NO_AWS_ENV, gates=False)
    assert selected.template(BASELINE) == synthesis.template(BASELINE)


def test_one_statement_admits_log_delivery_from_this_accounts_project_buckets_only(synthesis):
    (statement,) = log_delivery_statements(synthesis.template(BASELINE))
    assert statement["Action"] == "s3:PutObject"
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"},
                                      "ArnLike": {"aws:SourceArn": "arn:aws:s3:::refarch-dev-*"}}
    assert statement["Resource"]["Fn::Join"][1][-1] == "/*"


def test_prod_admits_only_the_prod_buckets(prod_synthesis):
    (statement,) = log_delivery_statements(prod_synthesis.template(BASELINE))
    assert statement["Condition"]["ArnLike"] == {"aws:SourceArn": "arn:aws:s3:::refarch-prod-*"}


def test_pattern_buckets_still_log_into_the_baseline_bucket(synthesis):
    buckets = [r["Properties"] for r in synthesis.template("IotTelemetry")["Resources"].values()
               if r["Type"] == "AWS::S3::Bucket"]
    assert buckets and all(b["LoggingConfiguration"]["LogFilePrefix"].startswith("IotTelemetry/") for b in buckets)
    assert all("AccessLogs" in str(b["LoggingConfiguration"]["DestinationBucketName"]) for b in buckets)
