"""BatchDataLake: what the synthesized template promises.

The Glue version, worker sizes, engine version and other values that are only today's
choices stay in the snapshot; what each bucket keeps is test_bounded_storage.py's.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_cdk.assertions import Template

from refarch.config import LakeSettings
from refarch.paths import SQL_ROOT
from refarch.stacks.batch_data_lake import REJECTED_COLUMNS, TRADES_COLUMNS

DEFAULTS = LakeSettings()   # the settings the session's app is synthesized with


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


def security_configuration_name(template: Template) -> str:
    (config,) = resources(template, "AWS::Glue::SecurityConfiguration").values()
    return config["Properties"]["Name"]


def database_name(template: Template) -> str:
    (database,) = resources(template, "AWS::Glue::Database").values()
    return database["Properties"]["DatabaseInput"]["Name"]


def names(template: Template, kind: str) -> list[str]:
    return [r["Properties"]["Name"] for r in resources(template, kind).values()]


def test_every_bucket_is_encrypted_with_the_data_key_versioned_and_logged(template):
    buckets = resources(template, "AWS::S3::Bucket")
    assert buckets
    for bucket in buckets.values():
        props = bucket["Properties"]
        default = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
        assert default["SSEAlgorithm"] == "aws:kms" and is_data_key(default["KMSMasterKeyID"])
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        assert "DestinationBucketName" in props["LoggingConfiguration"]


def test_every_bucket_denies_plain_http(template):
    policies = resources(template, "AWS::S3::BucketPolicy").values()
    denies_http = {policy["Properties"]["Bucket"]["Ref"] for policy in policies
                   if any(s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
                          for s in policy["Properties"]["PolicyDocument"]["Statement"])}
    assert denies_http == set(resources(template, "AWS::S3::Bucket"))


def test_zone_buckets_have_the_names_the_stack_outputs_and_the_warehouse_grants_on(synthesis, template):
    outputs = synthesis.template("BatchDataLake")["Outputs"]
    raw, curated = outputs["RawBucketName"]["Value"], outputs["CuratedBucketName"]["Value"]
    assert by_prefix(template, "AWS::S3::Bucket", "LakeRaw")["BucketName"] == raw
    assert by_prefix(template, "AWS::S3::Bucket", "LakeCurated")["BucketName"] == curated
    assert all(name.endswith("-123456789012-us-east-1") for name in (raw, curated))   # unique per account and region
    assert curated in str(synthesis.template("RedshiftWarehouse"))   # named there, not imported
    assert "BucketName" not in by_prefix(template, "AWS::S3::Bucket", "QueryResults")


def test_raw_zone_uses_intelligent_tiering_so_reading_an_old_object_back_costs_no_retrieval(template):
    # A late file or a backfill reads old raw objects; Standard-IA or Glacier would charge per GB read.
    rules = by_prefix(template, "AWS::S3::Bucket", "LakeRaw")["LifecycleConfiguration"]["Rules"]
    assert any("AbortIncompleteMultipartUpload" in r and r["Status"] == "Enabled" for r in rules)
    tiering = next(r for r in rules if r["Id"] == "RawTiering")
    assert tiering["Transitions"] == [{"StorageClass": "INTELLIGENT_TIERING", "TransitionInDays": 0}]
    assert not any("Expiration" in key for r in rules for key in r if key != "NoncurrentVersionExpiration")


def test_curated_zone_uses_intelligent_tiering(template):
    rules = by_prefix(template, "AWS::S3::Bucket", "LakeCurated")["LifecycleConfiguration"]["Rules"]
    tiering = next(r for r in rules if r["Id"] == "CuratedTiering")
    assert tiering["Transitions"] == [{"StorageClass": "INTELLIGENT_TIERING", "TransitionInDays": 0}]


def test_athena_query_results_expire_after_the_setting_where_the_workgroup_writes_them(template):
    rules = by_prefix(template, "AWS::S3::Bucket", "QueryResults")["LifecycleConfiguration"]["Rules"]
    expire = next(r for r in rules if r["Id"] == "ExpireQueryResults")
    assert expire["ExpirationInDays"] == DEFAULTS.query_results_days
    [workgroup] = resources(template, "AWS::Athena::WorkGroup").values()
    location = workgroup["Properties"]["WorkGroupConfiguration"]["ResultConfiguration"]["OutputLocation"]
    assert location["Fn::Join"][1][-1] == f"/{expire['Prefix']}"      # where the rule expires them


def test_security_configuration_encrypts_s3_logs_and_bookmarks_with_the_key(template):
    (config,) = resources(template, "AWS::Glue::SecurityConfiguration").values()
    encryption = config["Properties"]["EncryptionConfiguration"]
    assert encryption["S3Encryptions"][0]["S3EncryptionMode"] == "SSE-KMS"
    assert encryption["CloudWatchEncryption"]["CloudWatchEncryptionMode"] == "SSE-KMS"
    assert encryption["JobBookmarksEncryption"]["JobBookmarksEncryptionMode"] == "CSE-KMS"
    assert all(is_data_key(part["KmsKeyArn"]) for part in (
        encryption["S3Encryptions"][0], encryption["CloudWatchEncryption"], encryption["JobBookmarksEncryption"]))


def test_every_crawler_and_job_runs_under_the_security_configuration(template):
    crawlers = resources(template, "AWS::Glue::Crawler").values()
    jobs = resources(template, "AWS::Glue::Job").values()
    assert crawlers and jobs
    expected = security_configuration_name(template)
    assert all(c["Properties"]["CrawlerSecurityConfiguration"] == expected for c in crawlers)
    assert all(j["Properties"]["SecurityConfiguration"] == expected for j in jobs)


def test_the_raw_crawler_crawls_only_new_folders_of_the_raw_trades_into_the_lake_database(template):
    raw = by_prefix(template, "AWS::Glue::Crawler", "RawCrawler")
    assert raw["RecrawlPolicy"] == {"RecrawlBehavior": "CRAWL_NEW_FOLDERS_ONLY"}   # not the history, nightly
    assert raw["SchemaChangePolicy"] == {"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"}   # what Glue requires
    assert raw["DatabaseName"] == database_name(template)
    (target,) = raw["Targets"]["S3Targets"]
    assert target["Path"]["Fn::Join"][1][1]["Ref"].startswith("LakeRaw")
    assert target["Path"]["Fn::Join"][1][-1] == "/trades/"


def test_the_partition_crawler_registers_partitions_of_the_declared_tables_only(template):
    partitions = by_prefix(template, "AWS::Glue::Crawler", "CuratedPartitions")
    tables = sorted(t["Properties"]["TableInput"]["Name"] for t in resources(template, "AWS::Glue::Table").values())
    assert partitions["Targets"]["CatalogTargets"] == [{"DatabaseName": database_name(template), "Tables": tables}]
    assert partitions["SchemaChangePolicy"] == {"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"}   # never drops a table


def test_the_etl_job_runs_the_script_asset_and_keeps_its_own_record_instead_of_bookmarks(template):
    (job,) = resources(template, "AWS::Glue::Job").values()
    props = job["Properties"]
    assert props["Command"]["ScriptLocation"].startswith("s3://cdk-hnb659fds-assets-")
    # The plain Spark script keeps its own record of processed objects: bookmarks would do nothing.
    assert props["DefaultArguments"]["--job-bookmark-option"] == "job-bookmark-disable"


def test_the_etl_job_logs_continuously_and_publishes_metrics(template):
    (job,) = resources(template, "AWS::Glue::Job").values()
    args = job["Properties"]["DefaultArguments"]
    assert (args["--enable-continuous-cloudwatch-log"], args["--enable-metrics"]) == ("true", "true")


def test_the_etl_job_reads_raw_and_writes_the_curated_paths(template):
    (job,) = resources(template, "AWS::Glue::Job").values()
    args = job["Properties"]["DefaultArguments"]
    assert args["--source_path"]["Fn::Join"][1][1]["Ref"].startswith("LakeRaw")
    for path in ("--target_path", "--rejected_path", "--quality_path"):
        assert args[path]["Fn::Join"][1][1]["Ref"].startswith("LakeCurated"), path


def test_the_etl_job_accepts_the_days_the_trades_table_projects(template):
    (job,) = resources(template, "AWS::Glue::Job").values()
    [table] = [t["Properties"]["TableInput"] for t in resources(template, "AWS::Glue::Table").values()
               if t["Properties"]["TableInput"]["Name"] == "trades"]
    first, last = table["Parameters"]["projection.trade_date.range"].split(",")
    assert job["Properties"]["DefaultArguments"]["--first_trade_date"] == first == DEFAULTS.first_trade_date
    assert last == "NOW+1DAYS"


def test_workflow_crawls_on_schedule_then_runs_the_job_then_registers_partitions(template):
    triggers = {k: r["Properties"] for k, r in resources(template, "AWS::Glue::Trigger").items()}
    raw_crawler = by_prefix(template, "AWS::Glue::Crawler", "RawCrawler")["Name"]
    partitions = by_prefix(template, "AWS::Glue::Crawler", "CuratedPartitions")["Name"]
    (job,) = names(template, "AWS::Glue::Job")
    schedule = next(t for t in triggers.values() if t["Type"] == "SCHEDULED")
    assert schedule["Schedule"] == DEFAULTS.crawl_schedule
    assert schedule["Actions"] == [{"CrawlerName": raw_crawler}]
    after_crawl = next(t for t in triggers.values() if t["Actions"][0].get("JobName"))
    assert after_crawl["Actions"] == [{"JobName": job}]
    assert after_crawl["Predicate"]["Conditions"] == [{"CrawlerName": raw_crawler,
                                                       "CrawlState": "SUCCEEDED", "LogicalOperator": "EQUALS"}]
    after_job = next(t for t in triggers.values() if t["Type"] == "CONDITIONAL" and t is not after_crawl)
    assert after_job["Predicate"]["Conditions"][0] == {"JobName": job, "State": "SUCCEEDED",
                                                       "LogicalOperator": "EQUALS"}
    assert after_job["Actions"] == [{"CrawlerName": partitions}]


def test_workgroup_is_enforced_encrypted_with_the_data_key_with_the_scan_cutoff_setting(template):
    (workgroup,) = resources(template, "AWS::Athena::WorkGroup").values()
    config = workgroup["Properties"]["WorkGroupConfiguration"]
    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["BytesScannedCutoffPerQuery"] == DEFAULTS.bytes_scanned_cutoff_mb * 1024 * 1024
    result = config["ResultConfiguration"]
    assert result["EncryptionConfiguration"]["EncryptionOption"] == "SSE_KMS"
    assert is_data_key(result["EncryptionConfiguration"]["KmsKey"])
    assert result["OutputLocation"]["Fn::Join"][1][0] == "s3://"
    assert result["OutputLocation"]["Fn::Join"][1][1]["Ref"].startswith("QueryResults")


def test_one_named_query_per_sql_file_on_the_lake_database(template):
    queries = {r["Properties"]["Name"]: r["Properties"] for r in resources(template, "AWS::Athena::NamedQuery").values()}
    files = {p.stem: p for p in Path(SQL_ROOT, "athena").glob("*.sql")}
    assert set(queries) == set(files)
    for name, props in queries.items():
        assert props["QueryString"] == files[name].read_text().strip()
        assert props["Database"] == database_name(template)
        assert props["Description"] == files[name].read_text().splitlines()[0][2:].strip()


def test_curated_tables_declare_the_columns_the_etl_job_writes(template):
    # tests/jobs/test_trades_etl.py compares these declarations with the Parquet Spark writes.
    tables = {r["Properties"]["TableInput"]["Name"]: r["Properties"]["TableInput"]
              for r in resources(template, "AWS::Glue::Table").values()}
    assert set(tables) == {"trades", "trades_rejected"}
    for name, columns in (("trades", TRADES_COLUMNS), ("trades_rejected", REJECTED_COLUMNS)):
        declared = tables[name]["StorageDescriptor"]["Columns"]
        assert tuple((c["Name"], c["Type"]) for c in declared) == columns, name
        assert tables[name]["PartitionKeys"] == [{"Name": "trade_date", "Type": "string"}], name
    assert tables["trades"]["Parameters"]["projection.trade_date.type"] == "date"
    assert "projection.enabled" not in tables["trades_rejected"]["Parameters"]


def test_job_reads_raw_and_writes_only_the_curated_bucket(template):
    policy = next(p for k, p in resources(template, "AWS::IAM::Policy").items() if k.startswith("CurateTradesRole"))
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    writes = [s for s in statements if any(a.startswith("s3:Put") for a in s["Action"])]
    assert len(writes) == 1
    assert all("LakeCurated" in str(r) for r in writes[0]["Resource"])
