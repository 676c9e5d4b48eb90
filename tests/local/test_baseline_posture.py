"""The posture report is read from the template: it reflects what is there, good or bad."""

from __future__ import annotations

import copy

import pytest

from refarch.endpoint_needs import needed_interface_endpoints
from refarch.local.baseline import posture_report


@pytest.fixture(scope="module")
def baseline_template(synthesis) -> dict:
    return synthesis.template("SecurityBaseline")


def logical_id(template: dict, kind: str, prefix: str) -> str:
    return next(k for k, r in template["Resources"].items() if r["Type"] == kind and k.startswith(prefix))


def test_baseline_posture_has_no_problems(baseline_template):
    report = posture_report("SecurityBaseline", baseline_template)
    assert report.problems == []
    assert set(report.keys) == {"alias/refarch-dev-SecurityBaseline/data",
                                "alias/refarch-dev-SecurityBaseline/audit"}
    assert all(report.keys.values())


def test_posture_names_the_key_of_each_encrypted_resource(baseline_template):
    report = posture_report("SecurityBaseline", baseline_template)
    by_type = {(r.type, r.algorithm, r.key) for r in report.encryption}
    audit = "alias/refarch-dev-SecurityBaseline/audit"
    assert by_type == {
        ("AWS::S3::Bucket", "AES256", None),          # access logs: S3 requires SSE-S3
        ("AWS::S3::Bucket", "aws:kms", audit),        # trail bucket
        ("AWS::CloudTrail::Trail", "aws:kms", audit),
        ("AWS::Logs::LogGroup", "aws:kms", audit),    # flow logs
        ("AWS::Logs::LogGroup", "aws:kms", "alias/refarch-dev-SecurityBaseline/data"),  # CDK's provider functions
    }


def test_posture_lists_endpoints_and_flow_logs(baseline_template):
    report = posture_report("SecurityBaseline", baseline_template)
    assert report.endpoints["s3"] == "Gateway"
    assert report.endpoints["dynamodb"] == "Gateway"
    assert report.endpoints["kinesis-streams"] == "Interface"
    # the gateways plus every interface endpoint a pattern needs (the default setting)
    assert set(report.endpoints) == {"s3", "dynamodb", *needed_interface_endpoints()}
    assert len(report.flow_logs) == 1 and report.flow_logs[0].endswith("cloud-watch-logs (ALL)")


def test_posture_reports_an_unencrypted_public_plain_http_bucket(baseline_template):
    template = copy.deepcopy(baseline_template)
    bucket = logical_id(template, "AWS::S3::Bucket", "AuditTrailBucket")
    props = template["Resources"][bucket]["Properties"]
    del props["BucketEncryption"]
    props["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] = False
    policy = logical_id(template, "AWS::S3::BucketPolicy", "AuditTrailBucketPolicy")
    del template["Resources"][policy]
    problems = posture_report("SecurityBaseline", template).problems
    assert f"{bucket} (AWS::S3::Bucket): not encrypted at rest" in problems
    assert f"{bucket}: public access not fully blocked" in problems
    assert f"{bucket}: does not deny non-TLS requests" in problems


def test_posture_reports_rotation_off_and_a_trail_without_validation(baseline_template):
    template = copy.deepcopy(baseline_template)
    key = logical_id(template, "AWS::KMS::Key", "DataKey")
    template["Resources"][key]["Properties"]["EnableKeyRotation"] = False
    trail = logical_id(template, "AWS::CloudTrail::Trail", "AuditTrail")
    template["Resources"][trail]["Properties"]["EnableLogFileValidation"] = False
    problems = posture_report("SecurityBaseline", template).problems
    assert problems == ["alias/refarch-dev-SecurityBaseline/data: key rotation off",
                        f"trail {trail}: log-file validation off"]
