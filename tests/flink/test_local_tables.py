"""Flink's own reading of each job's tables: the cloud DDL as PyFlink parses it, the local tables
main.py derives from it, and the job's views and queries planned against those local tables.

Creating a table only records it in the catalog, so the cloud DDL can be created here although
the Kinesis factory cannot be found: Flink parses it and resolves its schema (types, computed
columns, watermark, primary key). Planning looks the factory up, so the queries are planned
against the derived local tables, which carry the same schema.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from refarch.local.flink_sql import FLINK_JOBS, load_entry

main = load_entry()
pytestmark = pytest.mark.flink
JOBS = sorted(d.name for d in FLINK_JOBS.iterdir() if (d / "queries").is_dir())
# What the runtime properties of each job must supply, as dummies (cloud) and local paths.
CLOUD_PROPERTIES = {"aws.region": "eu-west-1", "source.stream.arn": "arn:source", "attribution.minutes": "5",
                    **{f"sink.{name}.stream.arn": f"arn:{name}" for name in ("clean", "deadletters", "windows",
                                                                             "alerts", "ctr")}}
LOCAL_PROPERTIES = {"source.path": "/tmp/in", "output.path": "/tmp/out", "attribution.minutes": "5"}


@contextmanager
def database(env) -> Iterator[str]:
    name = f"tables_{uuid.uuid4().hex[:8]}"
    env.execute_sql(f"CREATE DATABASE {name}")
    previous = env.get_current_database()
    env.use_database(name)
    try:
        yield name
    finally:
        env.use_database(previous)
        env.execute_sql(f"DROP DATABASE {name} CASCADE")


def described(env, statements: list[str]) -> dict[str, list[tuple]]:
    """Every created table's DESCRIBE: name, type, nullability, key, computed expression, watermark."""
    tables = [main.parse_table(s, "rendered").name for s in statements]
    for statement in statements:
        env.execute_sql(statement)
    return {name: [tuple(row) for row in env.execute_sql(f"DESCRIBE `{name}`").collect()] for name in tables}


@pytest.mark.parametrize("job", JOBS)
def test_flink_reads_the_cloud_options_and_partition_keys_as_the_derivation_does(flink_env, job):
    from pyflink.table.catalog import ObjectPath

    tables = main.job_tables(FLINK_JOBS / job)
    with database(flink_env) as name:
        for t in tables:   # as written, placeholders and all: they are plain option values to Flink
            flink_env.execute_sql(t.table.statement)
        catalog = flink_env.get_catalog(flink_env.get_current_catalog())
        for t in tables:
            created = catalog.get_table(ObjectPath(name, t.table.name))
            assert dict(created.get_options()) == t.table.options, t.where
            assert tuple(created._j_catalog_base_table.getPartitionKeys()) == t.table.partitioned_by, t.where


@pytest.mark.parametrize("job", JOBS)
def test_the_local_tables_have_the_cloud_tables_schema(flink_env, job):
    schemas = {}
    for mode, properties in (("cloud", CLOUD_PROPERTIES), ("local", LOCAL_PROPERTIES)):
        ddl, _ = main.render_statements(FLINK_JOBS / job, mode, properties)
        with database(flink_env):
            schemas[mode] = described(flink_env, [s for s in ddl if s.upper().startswith("CREATE TABLE")])
    assert schemas["cloud"] == schemas["local"]
    rowtimes = [c[0] for columns in schemas["local"].values() for c in columns if "*ROWTIME*" in c[1]]
    assert len(rowtimes) == 1   # the source's time attribute survived the derivation


@pytest.mark.parametrize("job", JOBS)
def test_every_query_of_the_job_plans_against_the_derived_local_tables(flink_env, job):
    ddl, inserts = main.render_statements(FLINK_JOBS / job, "local", LOCAL_PROPERTIES)
    with database(flink_env):
        for statement in ddl:
            flink_env.execute_sql(statement)
        statements = flink_env.create_statement_set()
        for insert in inserts:
            statements.add_insert_sql(insert)
        plan = statements.explain()
    sinks = [t.table.name for t in main.job_tables(FLINK_JOBS / job) if t.role == "sink"]
    # The optimized plans name every sink the job writes (some once per INSERT into it).
    written = re.findall(r"^Sink\(table=\[[^\]]*\.(\w+)\]", plan, re.MULTILINE)
    assert set(written) == set(sinks), plan[-3000:]


def test_a_primary_key_and_a_partitioned_sink_keep_their_schema_locally(flink_env, tmp_path):
    job = tmp_path / "job"
    for folder, text in (
            ("cloud", "CREATE TABLE latest (k STRING, n BIGINT, PRIMARY KEY (k) NOT ENFORCED) PARTITIONED BY (k) "
                      "WITH ('connector' = 'kinesis', 'stream.arn' = '${SINK_X_STREAM_ARN}', "
                      "'aws.region' = '${AWS_REGION}', 'format' = 'json')"),
            ("queries", "INSERT INTO latest SELECT 'a', CAST(1 AS BIGINT)")):
        (job / folder).mkdir(parents=True)
        (job / folder / "01.sql").write_text(text)
    schemas = {}
    for mode, properties in (("cloud", {"aws.region": "r", "sink.x.stream.arn": "arn"}), ("local", LOCAL_PROPERTIES)):
        ddl, _ = main.render_statements(job, mode, properties)
        with database(flink_env):
            schemas[mode] = described(flink_env, ddl)
    assert schemas["cloud"] == schemas["local"]
    assert schemas["local"]["latest"][0][:4] == ("k", "STRING", False, "PRI(k)")
