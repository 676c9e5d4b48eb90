"""Every function, aws-cdk-lib's own providers included, logs to an encrypted log group with a
retention (issue 11, item 9): none falls back to an unencrypted /aws/lambda/<name> kept forever."""

from __future__ import annotations

import pytest

from refarch.patterns import PATTERN_NAMES


@pytest.mark.parametrize("stack", PATTERN_NAMES)
def test_every_function_logs_to_an_encrypted_group_with_the_log_retention_setting(synthesis, stack):
    resources = synthesis.template(stack)["Resources"]
    functions = {k: r["Properties"] for k, r in resources.items() if r["Type"] == "AWS::Lambda::Function"}
    for name, function in functions.items():
        group = function.get("LoggingConfig", {}).get("LogGroup")
        assert isinstance(group, dict) and "Ref" in group, f"{name} logs to Lambda's default group"
        props = resources[group["Ref"]]["Properties"]
        assert "KmsKeyId" in props, name
        assert props["RetentionInDays"] == synthesis.settings.baseline.log_retention_days, name


def test_cdk_providers_share_the_stacks_custom_resource_log_group(synthesis):
    resources = synthesis.template("SecurityBaseline")["Resources"]
    providers = [r["Properties"] for k, r in resources.items()
                 if r["Type"] == "AWS::Lambda::Function" and "CustomResourceProvider" in k]
    assert providers  # auto-delete objects (dev buckets), restrict the default security group
    (group,) = {p["LoggingConfig"]["LogGroup"]["Ref"] for p in providers}
    assert group.startswith("CustomResourceLogs")
    (data_key,) = [k for k, r in resources.items() if r["Type"] == "AWS::KMS::Key" and k.startswith("DataKey")]
    assert resources[group]["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [data_key, "Arn"]}
