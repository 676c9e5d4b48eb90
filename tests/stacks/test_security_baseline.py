"""SecurityBaseline: what the synthesized template promises."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match, Template

from refarch.config import DEFAULT_INTERFACE_ENDPOINTS
from refarch.synthesis import synthesize
from tests.conftest import NO_AWS_ENV


@pytest.fixture(scope="module")
def template(synthesis) -> Template:
    return Template.from_json(synthesis.template("SecurityBaseline"))


@pytest.fixture(scope="module")
def prod_template(prod_synthesis) -> Template:
    return Template.from_json(prod_synthesis.template("SecurityBaseline"))


def resources(template: Template, kind: str) -> dict:
    return template.find_resources(kind)


def test_two_customer_managed_keys_rotate_and_have_aliases(template):
    template.resource_count_is("AWS::KMS::Key", 2)
    template.all_resources_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    aliases = sorted(r["Properties"]["AliasName"] for r in resources(template, "AWS::KMS::Alias").values())
    assert aliases == ["alias/refarch-dev-SecurityBaseline/audit", "alias/refarch-dev-SecurityBaseline/data"]


def key_statements(template: Template, sid: str) -> list[dict]:
    return [s for key in resources(template, "AWS::KMS::Key").values()
            for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid") == sid]


def test_key_policies_let_cloudwatch_logs_of_this_account_only_use_the_keys(template):
    statements = key_statements(template, "AllowCloudWatchLogsOfThisAccount")
    assert len(statements) == 2  # both keys encrypt log groups
    for statement in statements:
        assert statement["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
        assert "kms:EncryptionContext:aws:logs:arn" in statement["Condition"]["ArnLike"]


def test_data_key_lets_alarms_and_events_use_it_and_no_service_nothing_needs(template):
    # No topic delivers to an encrypted queue and no bucket sends notifications, so SNS and
    # S3 have no statement: a grant nothing uses is one more thing that could be abused.
    assert key_statements(template, "AllowSnsToUseTheKey") == []
    assert key_statements(template, "AllowS3ToUseTheKey") == []
    for sid, principal in [("AllowCloudwatchToUseTheKey", "cloudwatch.amazonaws.com"),
                           ("AllowEventsToUseTheKey", "events.amazonaws.com")]:
        (statement,) = key_statements(template, sid)
        assert statement["Principal"] == {"Service": principal}
        assert statement["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
    # EventBridge sends no aws:SourceAccount to KMS: a condition on it would drop events.
    (events,) = key_statements(template, "AllowEventsToUseTheKey")
    assert "Condition" not in events
    (alarms,) = key_statements(template, "AllowCloudwatchToUseTheKey")
    assert alarms["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


def test_audit_key_lets_only_this_accounts_trails_encrypt(template):
    (encrypt,) = key_statements(template, "AllowCloudTrailToEncryptLogFiles")
    assert encrypt["Condition"]["StringLike"] == {
        "kms:EncryptionContext:aws:cloudtrail:arn": "arn:aws:cloudtrail:*:123456789012:trail/*"}
    assert len(key_statements(template, "AllowCloudTrailToDescribeKey")) == 1


def test_vpc_has_only_isolated_subnets_and_no_route_to_the_internet(template):
    template.resource_count_is("AWS::EC2::VPC", 1)
    assert resources(template, "AWS::EC2::Subnet")   # how many is the azs setting's (below)
    template.all_resources_properties("AWS::EC2::Subnet", {"MapPublicIpOnLaunch": False})
    for kind in ("AWS::EC2::InternetGateway", "AWS::EC2::NatGateway", "AWS::EC2::EIP"):
        template.resource_count_is(kind, 0)
    routes = resources(template, "AWS::EC2::Route")
    assert routes == {}


def test_subnets_use_availability_zones_by_index_so_synth_needs_no_lookup(template):
    zones = [s["Properties"]["AvailabilityZone"] for s in resources(template, "AWS::EC2::Subnet").values()]
    assert zones and zones == [{"Fn::Select": [i, {"Fn::GetAZs": ""}]} for i in range(len(zones))]


def test_gateway_endpoints_for_s3_and_dynamodb(template):
    gateways = [r["Properties"]["ServiceName"]["Fn::Join"][1][-1]
                for r in resources(template, "AWS::EC2::VPCEndpoint").values()
                if r["Properties"]["VpcEndpointType"] == "Gateway"]
    assert sorted(gateways) == [".dynamodb", ".s3"]


def test_interface_endpoints_for_the_configured_services_with_private_dns(template):
    interfaces = [r["Properties"] for r in resources(template, "AWS::EC2::VPCEndpoint").values()
                  if r["Properties"]["VpcEndpointType"] == "Interface"]
    names = sorted(p["ServiceName"].rsplit(".", 1)[-1] for p in interfaces)
    expected = sorted({"firehose": "kinesis-firehose"}.get(n, n) for n in DEFAULT_INTERFACE_ENDPOINTS)
    assert names == expected
    assert all(p["PrivateDnsEnabled"] is True for p in interfaces)


def test_endpoint_security_group_admits_https_from_the_vpc_range_only(template):
    (vpc,) = resources(template, "AWS::EC2::VPC").values()
    template.has_resource_properties("AWS::EC2::SecurityGroup", {
        "SecurityGroupIngress": [Match.object_like({"CidrIp": vpc["Properties"]["CidrBlock"], "FromPort": 443,
                                                    "ToPort": 443, "IpProtocol": "tcp"})],
        "SecurityGroupEgress": [Match.object_like({"CidrIp": "255.255.255.255/32"})],   # no egress
    })


def test_flow_logs_record_all_traffic_into_a_log_group_encrypted_with_the_audit_key(synthesis, template):
    template.has_resource_properties("AWS::EC2::FlowLog", {
        "ResourceType": "VPC", "TrafficType": "ALL", "LogDestinationType": "cloud-watch-logs"})
    (flow_log,) = resources(template, "AWS::EC2::FlowLog").values()
    group = resources(template, "AWS::Logs::LogGroup")[flow_log["Properties"]["LogGroupName"]["Ref"]]
    assert group["Properties"]["RetentionInDays"] == synthesis.settings.baseline.log_retention_days
    assert group["Properties"]["KmsKeyId"]["Fn::GetAtt"][0].startswith("AuditKey")


def test_trail_is_multi_region_validated_and_kms_encrypted_into_its_own_bucket(template):
    (trail,) = resources(template, "AWS::CloudTrail::Trail").values()
    props = trail["Properties"]
    assert props["IsMultiRegionTrail"] is True
    assert props["EnableLogFileValidation"] is True
    assert props["IncludeGlobalServiceEvents"] is True
    assert props["KMSKeyId"]["Fn::GetAtt"][0].startswith("AuditKey")
    assert props["S3BucketName"]["Ref"].startswith("AuditTrailBucket")


def test_every_bucket_blocks_public_access_and_denies_plain_http(template):
    buckets = resources(template, "AWS::S3::Bucket")
    assert buckets   # the access logs and the trail's
    for bucket in buckets.values():
        assert bucket["Properties"]["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True, "BlockPublicPolicy": True,
            "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
        assert bucket["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}
    policies = resources(template, "AWS::S3::BucketPolicy").values()
    denies_http = {policy["Properties"]["Bucket"]["Ref"] for policy in policies
                   if any(s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
                          for s in policy["Properties"]["PolicyDocument"]["Statement"])}
    assert denies_http == set(buckets)


def test_trail_bucket_logs_access_into_the_access_log_bucket(template):
    template.has_resource_properties("AWS::S3::Bucket", {
        "LoggingConfiguration": {"DestinationBucketName": {"Ref": Match.string_like_regexp("^AccessLogs")},
                                 "LogFilePrefix": Match.string_like_regexp("^SecurityBaseline/")}})


def test_dev_stage_deletes_buckets_and_their_objects_on_destroy(template):
    buckets = resources(template, "AWS::S3::Bucket")
    for bucket in buckets.values():
        assert bucket["DeletionPolicy"] == "Delete"
    emptied = {r["Properties"]["BucketName"]["Ref"] for r in resources(template, "Custom::S3AutoDeleteObjects").values()}
    assert buckets and emptied == set(buckets)


def test_prod_stage_retains_every_data_store(prod_template):
    for kind in ("AWS::S3::Bucket", "AWS::KMS::Key", "AWS::Logs::LogGroup"):
        for resource in resources(prod_template, kind).values():
            assert resource["DeletionPolicy"] == "Retain", kind
    prod_template.resource_count_is("Custom::S3AutoDeleteObjects", 0)


def test_azs_and_endpoint_settings_shape_the_network(tmp_path):
    endpoints = ",".join((*DEFAULT_INTERFACE_ENDPOINTS, "kms"))  # what the patterns need, and KMS
    result = synthesize({"azs": "3", "interface_endpoints": endpoints}, outdir=str(tmp_path),
                        environ=NO_AWS_ENV, gates=False)
    template = Template.from_json(result.template("SecurityBaseline"))
    template.resource_count_is("AWS::EC2::Subnet", 3)
    template.resource_count_is("AWS::EC2::VPCEndpoint", 2 + len(DEFAULT_INTERFACE_ENDPOINTS) + 1)


def test_stack_exposes_key_vpc_and_access_log_bucket(synthesis):
    baseline = synthesis.stacks["SecurityBaseline"]
    assert baseline.data_key is baseline.data_encryption.key
    assert baseline.vpc is baseline.network.vpc
    assert baseline.access_logs_bucket is baseline.access_logs
