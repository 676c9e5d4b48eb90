"""Storage that stays bounded for years: every bucket states its retention and its lifecycle
does what the statement says; old versions expire; every log group expires; every function
logs to a log group of the stack. One test per bucket and per log group of every stack."""

from __future__ import annotations

import re

import pytest

from refarch.constructs.buckets import RETENTION_TAG


@pytest.fixture(scope="module")
def templates(synthesis) -> dict[str, dict]:
    return {name: synthesis.template(name) for name in synthesis.stacks}


def resources_of(templates: dict[str, dict], kind: str) -> list[tuple[str, str, dict]]:
    return [(stack, name, r) for stack, template in templates.items()
            for name, r in template["Resources"].items() if r["Type"] == kind]


def tag(resource: dict, key: str) -> str | None:
    return next((t["Value"] for t in resource["Properties"].get("Tags", []) if t["Key"] == key), None)


def rules(bucket: dict) -> list[dict]:
    return bucket["Properties"].get("LifecycleConfiguration", {}).get("Rules", [])


EXPIRES = re.compile(r"(?:(?P<prefix>[a-z_]+/)(?: and (?P<other>[a-z_]+/))? )?expire after (?P<days>\d+) days")


def check_bucket(stack: str, name: str, bucket: dict) -> None:
    statement = tag(bucket, RETENTION_TAG)
    assert statement, f"{stack}/{name} states no retention (tag {RETENTION_TAG})"
    expirations = {(r.get("Prefix"), r["ExpirationInDays"]) for r in rules(bucket) if "ExpirationInDays" in r}
    stated = set()
    for match in EXPIRES.finditer(statement):
        for prefix in (match["prefix"], match["other"]):
            if prefix or not match["prefix"]:
                stated.add((prefix, int(match["days"])))
    assert expirations == stated, f"{stack}/{name}: '{statement}' but the lifecycle expires {sorted(expirations, key=str)}"
    if "kept until deleted" in statement and not stated:
        assert not expirations
    versioned = bucket["Properties"].get("VersioningConfiguration", {}).get("Status") == "Enabled"
    if versioned:
        old = [r["NoncurrentVersionExpiration"]["NoncurrentDays"] for r in rules(bucket)
               if "NoncurrentVersionExpiration" in r]
        days = re.search(r"old versions (\d+) days", statement)
        assert old and days and old == [int(days.group(1))], \
            f"{stack}/{name}: old versions must expire as stated ('{statement}', rules say {old})"


@pytest.mark.parametrize("stack, bucket_id", [
    ("SecurityBaseline", "AccessLogs"), ("SecurityBaseline", "AuditTrailBucket"),
    ("IotTelemetry", "RuleErrors"), ("FirehoseParquet", "Logs"),
    ("BatchDataLake", "LakeRaw"), ("BatchDataLake", "LakeCurated"), ("BatchDataLake", "QueryResults"),
])
def test_this_bucket_states_its_retention_and_keeps_to_it(templates, stack, bucket_id):
    [(name, bucket)] = [(n, r) for s, n, r in resources_of(templates, "AWS::S3::Bucket")
                        if s == stack and n.startswith(bucket_id)]
    check_bucket(stack, name, bucket)


def test_the_retention_statements_say_what_each_zone_keeps(templates):
    statements = {(s, n[:-8]): tag(r, RETENTION_TAG) for s, n, r in resources_of(templates, "AWS::S3::Bucket")}
    assert statements[("BatchDataLake", "QueryResults")] == "results/ expire after 30 days / old versions 1 days"
    assert statements[("BatchDataLake", "LakeCurated")] == \
        "kept until deleted: rebuilt by a backfill from raw / old versions 7 days"
    assert statements[("FirehoseParquet", "Logs")] == \
        "access_logs/ kept until deleted / raw/ and errors/ expire after 90 days / old versions 30 days"
    assert statements[("IotTelemetry", "RuleErrors")] == "expire after 90 days / old versions 30 days"
    assert statements[("SecurityBaseline", "AccessLogs")] == "expire after 365 days / old versions 1 days"


def test_every_bucket_of_every_stack_states_its_retention_and_keeps_to_it(templates):
    buckets = resources_of(templates, "AWS::S3::Bucket")
    assert len(buckets) >= 7
    for stack, name, bucket in buckets:
        check_bucket(stack, name, bucket)


def test_every_log_group_of_every_stack_expires(templates):
    groups = resources_of(templates, "AWS::Logs::LogGroup")
    assert groups
    missing = [f"{s}/{n}" for s, n, g in groups if not g["Properties"].get("RetentionInDays")]
    assert missing == []


def test_every_function_logs_to_a_log_group_of_its_stack_so_its_logs_expire(templates):
    groups = {(s, n) for s, n, _ in resources_of(templates, "AWS::Logs::LogGroup")}
    for stack, name, function in resources_of(templates, "AWS::Lambda::Function"):
        target = function["Properties"].get("LoggingConfig", {}).get("LogGroup")
        assert isinstance(target, dict) and (stack, target.get("Ref")) in groups, \
            f"{stack}/{name} logs to {target!r}: Lambda would create a log group that never expires"


def test_a_statement_the_lifecycle_contradicts_is_caught():
    bucket = {"Properties": {"Tags": [{"Key": RETENTION_TAG, "Value": "expire after 30 days / old versions 7 days"}],
                             "VersioningConfiguration": {"Status": "Enabled"},
                             "LifecycleConfiguration": {"Rules": [{"ExpirationInDays": 90, "Status": "Enabled"},
                                                                  {"NoncurrentVersionExpiration": {"NoncurrentDays": 7}}]}}}
    with pytest.raises(AssertionError, match="expire after 30 days.*but the lifecycle expires"):
        check_bucket("S", "B", bucket)
    bucket["Properties"]["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] = 30
    check_bucket("S", "B", bucket)
    del bucket["Properties"]["LifecycleConfiguration"]["Rules"][1]
    with pytest.raises(AssertionError, match="old versions must expire as stated"):
        check_bucket("S", "B", bucket)
