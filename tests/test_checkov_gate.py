"""checkov, the third template gate: zero failed checks, every skip reasoned on its resource."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk import aws_s3 as s3

from refarch.checkov_gate import CheckovUnavailable, scan_templates
from refarch.constructs.checkov import MIN_REASON_LENGTH, skip_check

ENV = Environment(account="123456789012", region="us-east-1")
REASON = "A test bucket standing in for one whose access logs are configured elsewhere"


def test_checkov_reports_no_failed_check_on_any_synthesized_stack(synthesis):
    assert synthesis.reports
    failed = {r.stack: [str(f) for f in r.checkov] for r in synthesis.reports}
    assert failed == {r.stack: [] for r in synthesis.reports}


def test_every_checkov_skip_has_a_reason_written_on_its_resource(synthesis):
    for report in synthesis.reports:
        resources = synthesis.template(report.stack)["Resources"]
        for skip in report.checkov_skips:
            assert len(skip.reason.strip()) >= MIN_REASON_LENGTH, (report.stack, skip)
            logical_id = skip.where.split(".", 1)[1]
            recorded = resources[logical_id]["Metadata"]["checkov"]["skip"]
            assert {"id": skip.rule, "comment": skip.reason} in recorded, (report.stack, skip)


def test_only_reviewed_checks_are_skipped(synthesis):
    # A new kind of skip needs a reviewer's look, not just a reason: this list changes with it.
    skipped = {skip.rule for report in synthesis.reports for skip in report.checkov_skips}
    assert skipped == {"CKV_AWS_18", "CKV_AWS_71", "CKV_AWS_109", "CKV_AWS_111",
                       "CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117",
                       # API Gateway: no cache on ingest/decision APIs, anonymous beacon POSTs;
                       # aws-cdk-lib's provider framework with no secret in its environment
                       "CKV_AWS_59", "CKV_AWS_120", "CKV_AWS_173"}


def test_checkov_fails_a_bucket_without_logging_and_honours_a_reasoned_skip(tmp_path):
    template = {"Resources": {
        "Plain": {"Type": "AWS::S3::Bucket", "Properties": {}},
        "Skipped": {"Type": "AWS::S3::Bucket", "Properties": {},
                    "Metadata": {"checkov": {"skip": [{"id": "CKV_AWS_18", "comment": REASON}]}}},
    }}
    path = tmp_path / "Bad.template.json"
    path.write_text(json.dumps(template))
    scan = scan_templates([path])[path.resolve()]
    failed = {(c.check_id, c.resource) for c in scan.failed}
    assert ("CKV_AWS_18", "AWS::S3::Bucket.Plain") in failed
    assert ("CKV_AWS_18", "AWS::S3::Bucket.Skipped") not in failed
    assert [(c.check_id, c.resource, c.reason) for c in scan.skipped] == [
        ("CKV_AWS_18", "AWS::S3::Bucket.Skipped", REASON)]
    assert scan.passed > 0


def test_a_missing_checkov_is_an_error_that_says_how_to_install_it(tmp_path):
    path = tmp_path / "Any.template.json"
    path.write_text(json.dumps({"Resources": {"B": {"Type": "AWS::S3::Bucket"}}}))
    with pytest.raises(CheckovUnavailable, match="make checkov"):
        scan_templates([path], checkov=tmp_path / "no-checkov")


@pytest.mark.synth
def test_skips_on_one_resource_accumulate_and_a_repeat_replaces_its_reason():
    stack = Stack(App(), "Skips", env=ENV)
    bucket = s3.Bucket(stack, "Bucket")
    skip_check(bucket, "CKV_AWS_18", REASON)
    skip_check(bucket, "CKV_AWS_21", REASON)
    skip_check(bucket, "CKV_AWS_18", REASON + ", restated")
    assert bucket.node.default_child.get_metadata("checkov") == {"skip": [
        {"id": "CKV_AWS_21", "comment": REASON}, {"id": "CKV_AWS_18", "comment": REASON + ", restated"}]}


@pytest.mark.synth
def test_a_skip_without_a_real_reason_is_refused():
    stack = Stack(App(), "Lazy", env=ENV)
    with pytest.raises(ValueError, match="needs a reason"):
        skip_check(s3.Bucket(stack, "Bucket"), "CKV_AWS_18", "n/a")
