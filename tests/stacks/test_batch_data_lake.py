"""BatchDataLake: what the synthesized template promises."""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_cdk.assertions import Template

from refarch.paths import SQL_ROOT


@pytest.fixture(scope="module")
def template(synthesis) -> Template:
    return Template.from_json(synthesis.template("BatchDataLake"))


def resources(template: Template, kind: str) -> dict:
    return template.find_resources(kind)


def by_prefix(template: Template, kind: str, prefix: str) -> dict:
    (resource,) = [r for k, r in resources(template, kind).items() if k.startswith(prefix)]
    return resource["Properties"]


def is_data_key(value) -> bool:
    return value["Fn::ImportValue"].startswith("refarch-dev-SecurityBaseline:ExportsOutputFnGetAttDataKey")


def test_every_bucket_is_encrypted_with_the_data_key_versioned_and_logged(template):
    buckets = resources(template, "AWS::S3::Bucket")
    assert len(buckets) == 3  # raw, curated, query results
    for bucket in buckets.values():
        props = bucket["Properties"]
        default = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
        assert default["SSEAlgorithm"] == "aws:kms" and is_data_key(default["KMSMasterKeyID"])
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        assert "DestinationBucketName" in props["LoggingConfiguration"]


def test_every_bucket_denies_plain_http(template):
    policies = resources(template, "AWS::S3::BucketPolicy").values()
    assert len(policies) == 3
    for policy in policies:
        assert any(s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
                   for s in policy["Properties"]["PolicyDocument"]["Statement"])


def test_zone_buckets_have_names_other_stacks_can_derive(template):
    names = sorted(r["Properties"].get("BucketName", "-") for r in resources(template, "AWS::S3::Bucket").values())
    assert names == ["-", "refarch-dev-batchdatalake-curated-123456789012-us-east-1",
                     "refarch-dev-batchdatalake-raw-123456789012-us-east-1"]


def test_raw_zone_uses_intelligent_tiering_so_reading_an_old_object_back_costs_no_retrieval(template):
    # A late file or a backfill reads old raw objects; Standard-IA or Glacier would charge per GB read.
    rules = by_prefix(template, "AWS::S3::Bucket", "LakeRaw")["LifecycleConfiguration"]["Rules"]
    assert {"AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}, "Id": "AbortIncompleteUploads",
            "Status": "Enabled"} in rules
    tiering = next(r for r in rules if r["Id"] == "RawTiering")
    assert tiering["Transitions"] == [{"StorageClass": "INTELLIGENT_TIERING", "TransitionInDays": 0}]
    assert not any("Expiration" in key for r in rules for key in r if key != "NoncurrentVersionExpiration")


def test_curated_zone_uses_intelligent_tiering(template):
    rules = by_prefix(template, "AWS::S3::Bucket", "LakeCurated")["LifecycleConfiguration"]["Rules"]
    tiering = next(r for r in rules if r["Id"] == "CuratedTiering")
    assert tiering["Transitions"] == [{"StorageClass": "INTELLIGENT_TIERING", "TransitionInDays": 0}]
    # each run rewrites partitions: their old versions expire after a week
    assert next(r for r in rules if r["Id"] == "ExpireOldVersions")["NoncurrentVersionExpiration"] == {"NoncurrentDays": 7}


def test_athena_query_results_expire_after_the_setting(template):
    rules = by_prefix(template, "AWS::S3::Bucket", "QueryResults")["LifecycleConfiguration"]["Rules"]
    expire = next(r for r in rules if r["Id"] == "ExpireQueryResults")
    assert (expire["Prefix"], expire["ExpirationInDays"]) == ("results/", 30)
    assert next(r for r in rules if r["Id"] == "ExpireOldVersions")["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}
    [workgroup] = resources(template, "AWS::Athena::WorkGroup").values()
    location = workgroup["Properties"]["WorkGroupConfiguration"]["ResultConfiguration"]["OutputLocation"]
    assert location["Fn::Join"][1][-1] == "/results/"      # where the rule expires them


def test_security_configuration_encrypts_s3_logs_and_bookmarks_with_the_key(template):
    (config,) = resources(template, "AWS::Glue::SecurityConfiguration").values()
    encryption = config["Properties"]["EncryptionConfiguration"]
    assert encryption["S3Encryptions"][0]["S3EncryptionMode"] == "SSE-KMS"
    assert encryption["CloudWatchEncryption"]["CloudWatchEncryptionMode"] == "SSE-KMS"
    assert encryption["JobBookmarksEncryption"]["JobBookmarksEncryptionMode"] == "CSE-KMS"
    assert all(is_data_key(part["KmsKeyArn"]) for part in (
        encryption["S3Encryptions"][0], encryption["CloudWatchEncryption"], encryption["JobBookmarksEncryption"]))


def test_crawlers_run_under_the_security_configuration(template):
    crawlers = resources(template, "AWS::Glue::Crawler")
    assert len(crawlers) == 2
    for crawler in crawlers.values():
        assert crawler["Properties"]["CrawlerSecurityConfiguration"] == "refarch-dev-BatchDataLake-GlueSecurity"
    raw = by_prefix(template, "AWS::Glue::Crawler", "RawCrawler")
    assert raw["TablePrefix"] == "raw_"
    assert raw["RecrawlPolicy"] == {"RecrawlBehavior": "CRAWL_NEW_FOLDERS_ONLY"}   # not the history, nightly
    assert raw["SchemaChangePolicy"] == {"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"}   # what Glue requires
    assert raw["Targets"]["S3Targets"][0]["Path"]["Fn::Join"][1][1]["Ref"].startswith("LakeRaw")
    assert raw["Targets"]["S3Targets"][0]["Path"]["Fn::Join"][1][-1] == "/trades/"
    partitions = by_prefix(template, "AWS::Glue::Crawler", "CuratedPartitions")
    assert partitions["Targets"]["CatalogTargets"] == [
        {"DatabaseName": "refarch_lake_dev", "Tables": ["trades", "trades_rejected"]}]
    assert partitions["SchemaChangePolicy"] == {"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"}


def test_etl_job_is_glue_5_incremental_by_its_own_record_with_logs_metrics_and_the_script_asset(template):
    (job,) = resources(template, "AWS::Glue::Job").values()
    props = job["Properties"]
    assert props["GlueVersion"] == "5.0"
    assert props["Command"]["Name"] == "glueetl" and props["Command"]["PythonVersion"] == "3"
    assert props["Command"]["ScriptLocation"].startswith("s3://cdk-hnb659fds-assets-")
    assert (props["WorkerType"], props["NumberOfWorkers"]) == ("G.1X", 2)
    assert props["SecurityConfiguration"] == "refarch-dev-BatchDataLake-GlueSecurity"
    args = props["DefaultArguments"]
    # The plain Spark script keeps its own record of processed objects: bookmarks would do nothing.
    assert args["--job-bookmark-option"] == "job-bookmark-disable"
    assert args["--enable-continuous-cloudwatch-log"] == "true"
    assert args["--enable-metrics"] == "true"
    assert set(args) >= {"--source_path", "--target_path", "--rejected_path", "--quality_path"}
    # the trades the job accepts are the days the table projects
    [table] = [t["Properties"]["TableInput"] for t in resources(template, "AWS::Glue::Table").values()
               if t["Properties"]["TableInput"]["Name"] == "trades"]
    assert args["--first_trade_date"] == "2024-01-01"
    assert table["Parameters"]["projection.trade_date.range"] == "2024-01-01,NOW+1DAYS"


def test_workflow_crawls_on_schedule_then_runs_the_job_then_registers_partitions(template):
    triggers = {k: r["Properties"] for k, r in resources(template, "AWS::Glue::Trigger").items()}
    schedule = next(t for t in triggers.values() if t["Type"] == "SCHEDULED")
    assert schedule["Schedule"] == "cron(0 2 * * ? *)"
    assert schedule["Actions"] == [{"CrawlerName": "refarch-dev-BatchDataLake-RawCrawler"}]
    after_crawl = next(t for t in triggers.values() if t["Actions"][0].get("JobName"))
    assert after_crawl["Predicate"]["Conditions"] == [{"CrawlerName": "refarch-dev-BatchDataLake-RawCrawler",
                                                       "CrawlState": "SUCCEEDED", "LogicalOperator": "EQUALS"}]
    after_job = next(t for t in triggers.values() if t["Type"] == "CONDITIONAL" and t is not after_crawl)
    assert after_job["Predicate"]["Conditions"][0]["State"] == "SUCCEEDED"
    assert after_job["Actions"] == [{"CrawlerName": "refarch-dev-BatchDataLake-CuratedPartitions"}]


def test_workgroup_is_enforced_engine_v3_encrypted_with_a_scan_cutoff(template):
    (workgroup,) = resources(template, "AWS::Athena::WorkGroup").values()
    config = workgroup["Properties"]["WorkGroupConfiguration"]
    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["EngineVersion"] == {"SelectedEngineVersion": "Athena engine version 3"}
    assert config["BytesScannedCutoffPerQuery"] == 10240 * 1024 * 1024
    result = config["ResultConfiguration"]
    assert result["EncryptionConfiguration"]["EncryptionOption"] == "SSE_KMS"
    assert is_data_key(result["EncryptionConfiguration"]["KmsKey"])
    assert result["OutputLocation"]["Fn::Join"][1][0] == "s3://"
    assert result["OutputLocation"]["Fn::Join"][1][1]["Ref"].startswith("QueryResults")


def test_one_named_query_per_sql_file(template):
    queries = {r["Properties"]["Name"]: r["Properties"] for r in resources(template, "AWS::Athena::NamedQuery").values()}
    files = {p.stem: p for p in Path(SQL_ROOT, "athena").glob("*.sql")}
    assert set(queries) == set(files)
    for name, props in queries.items():
        assert props["QueryString"] == files[name].read_text().strip()
        assert props["Database"] == "refarch_lake_dev"
        assert props["Description"] == files[name].read_text().splitlines()[0][2:].strip()


def test_curated_tables_are_declared_with_their_types(template):
    tables = {r["Properties"]["TableInput"]["Name"]: r["Properties"]["TableInput"]
              for r in resources(template, "AWS::Glue::Table").values()}
    assert set(tables) == {"trades", "trades_rejected"}
    trades = tables["trades"]
    assert [(c["Name"], c["Type"]) for c in trades["StorageDescriptor"]["Columns"]] == [
        ("trade_id", "string"), ("symbol", "string"), ("side", "string"), ("quantity", "bigint"),
        ("price", "decimal(18,4)"), ("trade_ts", "timestamp")]
    assert trades["PartitionKeys"] == [{"Name": "trade_date", "Type": "string"}]
    assert trades["Parameters"]["projection.trade_date.type"] == "date"
    assert "projection.enabled" not in tables["trades_rejected"]["Parameters"]


def test_job_reads_raw_and_writes_only_the_curated_bucket(template):
    policy = next(p for k, p in resources(template, "AWS::IAM::Policy").items() if k.startswith("CurateTradesRole"))
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    writes = [s for s in statements if any(a.startswith("s3:Put") for a in s["Action"])]
    assert len(writes) == 1
    assert all("LakeCurated" in str(r) for r in writes[0]["Resource"])
