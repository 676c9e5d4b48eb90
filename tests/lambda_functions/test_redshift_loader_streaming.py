"""The streaming-ingestion setup: sql/redshift/streaming/setup run by the setup function (never by a
load), placeholders from the event, and the custom-resource events of CDK's provider framework."""

from __future__ import annotations

import pytest

from refarch.paths import SQL_ROOT
from tests.lambda_loader import load

setup = load("redshift_loader", "redshift_setup")
loader_sql = load("redshift_loader", "redshift_loader_sql")

VARIABLES = {"STREAM_NAME": "refarch-dev-StreamingLogAnalytics-CleanEventsStream-Ab12",
             "STREAMING_ROLE_ARN": "arn:aws:iam::123456789012:role/refarch-dev-StreamingIngestion"}


def test_the_streaming_statements_are_the_three_files_with_the_values_filled_in():
    statements = loader_sql.streaming_statements(SQL_ROOT / "redshift", VARIABLES)
    assert [s.name for s in statements] == ["01_create_clickstream_schema", "02_create_kinesis_schema",
                                            "03_create_events_view"]
    assert all(s.phase == loader_sql.SETUP for s in statements)
    assert f"IAM_ROLE '{VARIABLES['STREAMING_ROLE_ARN']}'" in statements[1].sql
    assert f'FROM clickstream_kinesis."{VARIABLES["STREAM_NAME"]}"' in statements[2].sql
    assert not statements[2].sql.endswith(";")


def test_a_load_never_runs_the_streaming_statements():
    names = [s.name for s in loader_sql.load_statements(SQL_ROOT / "redshift", {
        "CURATED_BUCKET": "b", "COPY_ROLE_ARN": "arn:aws:iam::1:role/r", "SPECTRUM_ROLE_ARN": "arn:aws:iam::1:role/r",
        "LAKE_DATABASE": "d", "LOAD_MANIFEST": "s3://b/m.manifest", "LOADER_USER": "refarch_loader"})]
    assert not set(names) & {"01_create_clickstream_schema", "02_create_kinesis_schema", "03_create_events_view"}


def test_a_value_that_could_leave_its_sql_literal_is_refused():
    with pytest.raises(loader_sql.SqlFileError, match="STREAMING_ROLE_ARN"):
        loader_sql.streaming_statements(SQL_ROOT / "redshift", {**VARIABLES, "STREAMING_ROLE_ARN": "x'; DROP TABLE t"})


def test_the_event_must_name_both_values():
    with pytest.raises(setup.ConfigError, match="STREAM_NAME"):
        setup.streaming_variables({"STREAMING_ROLE_ARN": VARIABLES["STREAMING_ROLE_ARN"]})
    with pytest.raises(setup.ConfigError, match="must be an object"):
        setup.streaming_variables("refarch-dev-clean")


class Ran:
    def __init__(self) -> None:
        self.requests = []

    def __call__(self, request):
        self.requests.append(request)
        return setup.LoadResult(None, "FINISHED", (), 0.0, 0)


def never(request):
    raise AssertionError(f"the warehouse setup ran for a streaming event: {request}")


def test_create_runs_the_setup_and_update_and_delete_keep_the_view():
    ran = Ran()
    created = setup.custom_resource({"RequestType": "Create", "ResourceProperties": {"Streaming": VARIABLES}},
                                    warehouse=never, streaming=ran)
    assert ran.requests == [VARIABLES]
    assert created == {"PhysicalResourceId": f"streaming-setup:{VARIABLES['STREAM_NAME']}",
                       "Data": {"Statements": 0, "Skipped": 0}}
    for kind in ("Update", "Delete"):
        answer = setup.custom_resource({"RequestType": kind, "PhysicalResourceId": created["PhysicalResourceId"],
                                        "ResourceProperties": {"Streaming": VARIABLES}}, warehouse=never, streaming=ran)
        assert answer == {"PhysicalResourceId": created["PhysicalResourceId"]}
    assert len(ran.requests) == 1
