"""SecurityBaseline smoke: the data key every pattern encrypts with works, and the VPC exists."""

from __future__ import annotations

import os

from refarch.smoke.report import SmokeReport
from refarch.smoke.target import Progress, Target


def smoke_baseline(target: Target, stack_name: str, *, timeout: float, progress: Progress) -> SmokeReport:
    report = SmokeReport("SecurityBaseline", target.name)
    outputs = target.outputs(stack_name)
    kms = target.client("kms")
    secret = os.urandom(32)
    blob = kms.encrypt(KeyId=outputs["DataKeyArn"], Plaintext=secret)["CiphertextBlob"]
    report.expect("data key encrypts and decrypts", kms.decrypt(CiphertextBlob=blob)["Plaintext"] == secret,
                  "32 random bytes round-tripped through the data key", "decrypt did not return the plaintext")
    key = kms.describe_key(KeyId=outputs["DataKeyArn"])["KeyMetadata"]
    rotation = kms.get_key_rotation_status(KeyId=outputs["DataKeyArn"])["KeyRotationEnabled"]
    report.expect("data key enabled with rotation", key["Enabled"] and rotation,
                  f"{key['KeyId']} enabled, rotation on", f"enabled={key['Enabled']}, rotation={rotation}")
    (vpc,) = target.client("ec2").describe_vpcs(VpcIds=[outputs["VpcId"]])["Vpcs"]
    report.arrived("VPC exists", f"{vpc['VpcId']} ({vpc['CidrBlock']})")
    return report
