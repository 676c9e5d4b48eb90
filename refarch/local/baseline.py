"""Security posture of a synthesized template, read from the template itself.

The baseline has no data path to drive, so its local run inspects what would be
deployed: what is encrypted and with which key, which buckets block public access
and refuse plain HTTP, which endpoints exist and whether flow logs record the VPC.
"""

from __future__ import annotations

import re
from typing import Any

from refarch.local.reports.baseline import EncryptedResource, PostureReport

Template = dict[str, Any]

# Where each encryptable resource type names its key (None: a flag or algorithm only).
_ENCRYPTION = {
    "AWS::S3::Bucket": lambda p: _bucket_encryption(p),
    "AWS::Logs::LogGroup": lambda p: ("aws:kms", p.get("KmsKeyId")) if p.get("KmsKeyId") else None,
    "AWS::CloudTrail::Trail": lambda p: ("aws:kms", p.get("KMSKeyId")) if p.get("KMSKeyId") else None,
    "AWS::SNS::Topic": lambda p: ("aws:kms", p.get("KmsMasterKeyId")) if p.get("KmsMasterKeyId") else None,
    "AWS::SQS::Queue": lambda p: _queue_encryption(p),
    "AWS::Kinesis::Stream": lambda p: ("aws:kms", p["StreamEncryption"]["KeyId"]) if p.get("StreamEncryption") else None,
    "AWS::DynamoDB::Table": lambda p: _table_encryption(p),
    "AWS::KinesisFirehose::DeliveryStream": lambda p: _firehose_encryption(p),
    "AWS::Redshift::Cluster": lambda p: ("aws:kms", p.get("KmsKeyId")) if p.get("Encrypted") else None,
    "AWS::Athena::WorkGroup": lambda p: _athena_encryption(p),
}


def posture_report(stack: str, template: Template) -> PostureReport:
    resources: dict[str, dict] = template.get("Resources", {})
    aliases = _key_aliases(resources)
    report = PostureReport(stack)
    tls_buckets = _buckets_denying_plain_http(resources)
    for logical_id, resource in sorted(resources.items()):
        kind, props = resource["Type"], resource.get("Properties", {})
        if kind == "AWS::KMS::Key":
            report.keys[aliases.get(logical_id, logical_id)] = bool(props.get("EnableKeyRotation"))
        if kind in _ENCRYPTION:
            found = _ENCRYPTION[kind](props) or _source_stream_encryption(props, resources)
            algorithm, key = found if found else (None, None)
            report.encryption.append(EncryptedResource(
                logical_id, kind, algorithm, _key_name(key, aliases) if key else None))
        if kind == "AWS::S3::Bucket":
            block = props.get("PublicAccessBlockConfiguration", {})
            report.public_access_blocked[logical_id] = all(block.get(flag) is True for flag in (
                "BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"))
            report.tls_only[logical_id] = logical_id in tls_buckets
        if kind == "AWS::EC2::VPCEndpoint":
            report.endpoints[_service_name(props["ServiceName"])] = props.get("VpcEndpointType", "Gateway")
        if kind == "AWS::EC2::FlowLog":
            target = _ref_id(props.get("ResourceId")) or "?"
            report.flow_logs.append(f"{props.get('ResourceType')} {target} -> "
                                    f"{props.get('LogDestinationType')} ({props.get('TrafficType')})")
        if kind == "AWS::CloudTrail::Trail":
            report.trails[logical_id] = {
                "multi-region": props.get("IsMultiRegionTrail") is True,
                "log-file validation": props.get("EnableLogFileValidation") is True,
                "KMS encryption": bool(props.get("KMSKeyId")),
                "logging": props.get("IsLogging") is True,
            }
    return report


def _bucket_encryption(props: dict):
    rules = props.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
    if not rules:
        return None
    default = rules[0]["ServerSideEncryptionByDefault"]
    return default["SSEAlgorithm"], default.get("KMSMasterKeyID")


def _queue_encryption(props: dict):
    if props.get("KmsMasterKeyId"):
        return "aws:kms", props["KmsMasterKeyId"]
    return ("SQS-managed", None) if props.get("SqsManagedSseEnabled") else None


def _table_encryption(props: dict):
    sse = props.get("SSESpecification", {})
    if not sse.get("SSEEnabled"):
        return "AWS-owned", None  # DynamoDB always encrypts; SSEEnabled adds a KMS key
    return "aws:kms", sse.get("KMSMasterKeyId")


def _firehose_encryption(props: dict):
    config = props.get("DeliveryStreamEncryptionConfigurationInput")
    if not config:
        return None
    return "aws:kms", config.get("KeyARN")


def _source_stream_encryption(props: dict, resources: dict):
    """A Firehose stream reading a Kinesis stream keeps no data at rest of its own (AWS: the
    data stays in the source stream), so it is encrypted as its source stream is."""
    source = props.get("KinesisStreamSourceConfiguration", {}).get("KinesisStreamARN")
    stream = resources.get(_ref_id(source) or "", {})
    if stream.get("Type") != "AWS::Kinesis::Stream":
        return None
    return _ENCRYPTION["AWS::Kinesis::Stream"](stream.get("Properties", {}))


def _athena_encryption(props: dict):
    result = props.get("WorkGroupConfiguration", {}).get("ResultConfiguration", {})
    config = result.get("EncryptionConfiguration")
    if not config:
        return None
    return ("aws:kms", config.get("KmsKey")) if config["EncryptionOption"] != "SSE_S3" else ("AES256", None)


def _key_aliases(resources: dict) -> dict[str, str]:
    return {_ref_id(r["Properties"]["TargetKeyId"]): r["Properties"]["AliasName"]
            for r in resources.values() if r["Type"] == "AWS::KMS::Alias"}


def _key_name(ref: Any, aliases: dict[str, str]) -> str:
    if isinstance(ref, dict) and "Fn::ImportValue" in ref:  # a key of another stack (its export)
        stack, _, output = str(ref["Fn::ImportValue"]).partition(":")
        key = re.sub(r"^ExportsOutput(Fn)?(GetAtt|Ref)|([0-9A-F]{8})?(Arn)?[0-9A-F]{8}$", "", output)
        return f"{stack}/{key}"
    logical_id = _ref_id(ref)
    if logical_id:
        return aliases.get(logical_id, logical_id)
    return ref if isinstance(ref, str) else "imported key"


def _ref_id(value: Any) -> str | None:
    """The logical id behind {"Ref": id} or {"Fn::GetAtt": [id, attr]}."""
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            return value["Fn::GetAtt"][0]
        if "Fn::ImportValue" in value:
            return "imported"
    return None


def _service_name(value: Any) -> str:
    """`com.amazonaws.<region>.<service>` (a string or a Fn::Join) -> `<service>`."""
    if isinstance(value, dict) and "Fn::Join" in value:
        value = "".join(p if isinstance(p, str) else "<region>" for p in value["Fn::Join"][1])
    return str(value).split(".", 3)[-1]


def _buckets_denying_plain_http(resources: dict) -> set[str]:
    denied = set()
    for resource in resources.values():
        if resource["Type"] != "AWS::S3::BucketPolicy":
            continue
        for statement in resource["Properties"]["PolicyDocument"].get("Statement", []):
            if (statement.get("Effect") == "Deny"
                    and statement.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") in ("false", False)):
                bucket = _ref_id(resource["Properties"]["Bucket"])
                if bucket:
                    denied.add(bucket)
    return denied
