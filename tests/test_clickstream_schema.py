"""The one clickstream schema (refarch/clickstream_schema.py) and every form derived from it:
the API model (jsonschema, draft 4, as API Gateway validates), the Flink SQL generated into
jobs/flink/streaming_log, the Glue table, the OpenSearch mapping and the Redshift view, which
must agree field by field."""

from __future__ import annotations

import json
import re

import pytest
from jsonschema import Draft4Validator
from jsonschema.exceptions import best_match

from refarch import clickstream_schema as schema
from refarch.local.streaming_log_job import sink_columns
from refarch.paths import SQL_ROOT

GOOD = {"event_id": "evt-1", "visitor_id": "v-1", "page": "/products/42", "status": 200,
        "event_time": "2024-05-01T10:00:05.123Z", "user_agent": "Mozilla/5.0", "referrer": ""}


def reason(body) -> str | None:
    error = best_match(Draft4Validator(schema.request_schema(3)).iter_errors(body))
    return None if error is None else error.message


def test_the_generated_flink_sql_is_current():
    stale = [str(path) for path, text in schema.flink_sql_files().items() if path.read_text() != text]
    assert stale == [], "run `python -m refarch.clickstream_schema`"


def test_the_model_accepts_a_good_batch_and_names_what_is_wrong_with_a_bad_one():
    assert reason({"events": [GOOD]}) is None
    assert reason({"events": [{**GOOD, "status": 99}]}) == "99 is less than the minimum of 100"
    assert reason({"events": [{**GOOD, "status": 200.0}]}) == "200.0 is not of type 'integer'"
    assert "does not match" in reason({"events": [{**GOOD, "event_time": "2024-05-01 10:00:05"}]})
    assert reason({"events": [{k: v for k, v in GOOD.items() if k != "event_id"}]}) == \
        "'event_id' is a required property"
    assert "('extra' was unexpected)" in reason({"events": [{**GOOD, "extra": 1}]})


def test_the_model_limits_the_batch():
    assert reason({"events": []}) == "[] should be non-empty"
    assert "is too long" in reason({"events": [GOOD] * 4})
    with pytest.raises(ValueError, match="batch_max=501"):
        schema.request_schema(501)


def test_the_api_pattern_and_the_jobs_check_are_the_same_text():
    checked = (schema.FLINK_JOB / "views" / "01_clicks_checked.sql").read_text()
    for field in schema.FIELDS:
        if field.pattern:
            assert f"REGEXP(JSON_VALUE(payload, '$.{field.name}'), '{field.pattern}')" in checked
        if field.required:
            assert f"'missing:{field.name}'" in checked
        assert f"'invalid:{field.name}'" in checked


def test_flink_ddl_glue_mapping_and_warehouse_columns_name_the_same_fields_in_order():
    names = [f.name for f in schema.CLEAN_FIELDS]
    assert [n for n, _ in sink_columns("clean_events")] == names
    assert [n for n, _ in schema.glue_columns()] == names
    assert list(schema.opensearch_mapping()["properties"]) == names
    view = (SQL_ROOT / "redshift" / "streaming" / "setup" / "03_create_events_view.sql").read_text()
    typed = re.findall(r"'(\w+)', TRUE\), ''\) AS ([A-Z]+(?:\(\d+\))?)\) AS (\w+)", view)
    assert [(field, name) for field, _, name in typed] == [(n, n) for n in names]
    assert [kind for _, kind, _ in typed] == [t for _, t in schema.redshift_columns()]


def test_types_agree_across_the_forms():
    kinds = {f.name: f.kind for f in schema.CLEAN_FIELDS}
    flink = dict(sink_columns("clean_events"))
    glue = dict(schema.glue_columns())
    mapped = {n: p["type"] for n, p in schema.opensearch_mapping()["properties"].items()}
    expected = {"string": ("STRING", "string", "keyword"), "integer": ("INT", "int", "integer"),
                "timestamp": ("TIMESTAMP(3)", "timestamp", "date"), "boolean": ("BOOLEAN", "boolean", "boolean")}
    for name, kind in kinds.items():
        assert (flink[name], glue[name], mapped[name]) == expected[kind], name
    model = schema.event_schema()["properties"]
    assert {n: p["type"] for n, p in model.items()} == {
        f.name: "integer" if f.kind == "integer" else "string" for f in schema.FIELDS}


def test_the_mapping_is_strict_so_no_field_is_added_by_a_document():
    assert schema.opensearch_mapping()["dynamic"] == "strict"


def test_the_synthesized_stack_uses_the_schema(synthesis):
    template = synthesis.template("StreamingLogAnalytics")
    resources = template["Resources"].values()
    (model,) = [r["Properties"]["Schema"] for r in resources if r["Type"] == "AWS::ApiGateway::Model"]
    assert model == schema.request_schema(schema.MAX_BATCH)
    glue = [r["Properties"]["TableInput"] for r in resources if r["Type"] == "AWS::Glue::Table"]
    events = next(t for t in glue if t["Name"] == "clickstream_events")
    assert [(c["Name"], c["Type"]) for c in events["StorageDescriptor"]["Columns"]] == list(schema.glue_columns())
    (setup,) = [r["Properties"] for r in resources if r["Type"] == "Custom::SearchIndexSetup"]
    assert json.loads(setup["Template"])["template"]["mappings"] == schema.opensearch_mapping()
