"""The gate functions catch what they exist to catch (so a green gate means something)."""

from __future__ import annotations

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs

from refarch.constructs.nag import acknowledge
from refarch.gates import lint_findings, nag_acknowledgements, nag_findings

pytestmark = pytest.mark.synth
ENV = Environment(account="123456789012", region="us-east-1")


def test_nag_gate_reports_an_unencrypted_plain_http_queue():
    stack = Stack(App(), "Bad", env=ENV)
    sqs.Queue(stack, "Plain")
    rules = {f.rule for f in nag_findings(stack)}
    assert {"AwsSolutions-SQS3", "AwsSolutions-SQS4"} <= rules


def test_nag_gate_honours_an_acknowledgement_and_records_its_reason():
    stack = Stack(App(), "Acked", env=ENV)
    bucket = s3.Bucket(stack, "Bucket", enforce_ssl=True)
    reason = "A test bucket that stands in for one whose logging is configured elsewhere"
    acknowledge(bucket, "S1", reason)
    assert "AwsSolutions-S1" not in {f.rule for f in nag_findings(stack)}
    assert [(a.rule, a.reason) for a in nag_acknowledgements(stack)] == [("AwsSolutions-S1", reason)]


def test_an_acknowledgement_without_a_real_reason_is_refused():
    stack = Stack(App(), "Lazy", env=ENV)
    with pytest.raises(ValueError, match="needs a reason"):
        acknowledge(s3.Bucket(stack, "Bucket"), "S1", "not needed")


def test_lint_gate_reports_an_invalid_property_and_a_bad_reference():
    template = {
        "Resources": {
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": "soon"}},
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"KmsMasterKeyId": {"Ref": "Missing"}}},
        }
    }
    found = lint_findings(template)
    assert {f.level for f in found} == {"error"}
    assert {f.rule for f in found} >= {"E3012", "E1020"}


def test_lint_gate_ignores_only_the_configured_rule_ids():
    from refarch.gates import lint_config

    assert lint_config()["ignore_checks"] == ["W3005"]
