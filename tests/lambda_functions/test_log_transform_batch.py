"""The pure batch core: response sizing against the 6 MB limit, PutRecordBatch chunking."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.lambda_loader import load

batch = load("log_transform", "log_transform_batch")

LINE = b'10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /a?b=1 HTTP/1.1" 200 12\n'


def record(record_id: str, line: bytes = LINE) -> dict:
    return {"recordId": record_id, "approximateArrivalTimestamp": 1700000000000,
            "data": base64.b64encode(line).decode()}


def transformed(count: int, line: bytes = LINE) -> list:
    return [batch.transform_record(record(f"id-{index}", line)) for index in range(count)]


def ok_entry(result) -> dict:
    return {"recordId": result.record_id, "result": "Ok", "data": result.output,
            "metadata": {"partitionKeys": {"dt": result.partition}}}


def size_of(entries: list[dict]) -> int:
    return len(json.dumps({"records": entries}))


_record = st.fixed_dictionaries({
    "recordId": st.text(max_size=20),  # unicode and quotes: their escapes count too
    "data": st.sampled_from([base64.b64encode(LINE).decode(), "QUJD"]) | st.text(max_size=30),
})


@settings(max_examples=200, deadline=None)
@given(records=st.lists(_record, max_size=12), budget=st.integers(0, 6000))
def test_planned_size_is_the_exact_serialized_size_and_within_budget(records, budget):
    results = [batch.transform_record(record) for record in records]
    try:
        plan = batch.plan_response(results, budget)
    except batch.ResponseTooLarge:
        assert size_of([batch.failed_entry(result) for result in results]) > budget
        return
    assert plan.size == size_of(plan.records) <= budget
    assert [entry["recordId"] for entry in plan.records] == [r["recordId"] for r in records]


def test_every_record_is_ok_when_the_batch_fits():
    results = transformed(10)
    plan = batch.plan_response(results)
    assert [entry["result"] for entry in plan.records] == ["Ok"] * 10
    assert plan.overflow == []
    assert plan.size == len(json.dumps({"records": plan.records}))


def test_records_past_the_budget_overflow_as_failed_with_their_original_data():
    results = transformed(10)
    budget = size_of([ok_entry(result) for result in results]) - 1  # a byte short of all Ok
    plan = batch.plan_response(results, budget)
    assert plan.overflow == [9]
    assert plan.records[9] == {"recordId": "id-9", "result": "ProcessingFailed",
                               "data": results[9].original}
    assert plan.size == len(json.dumps({"records": plan.records})) <= budget


def test_a_smaller_record_after_an_overflowing_one_still_fits():
    long_line = LINE.replace(b"/a?b=1", b"/" + b"x" * 500)
    results = transformed(3) + [batch.transform_record(record("long", long_line))] + transformed(1)
    # room for every record Ok except the long one
    budget = size_of([ok_entry(r) for r in results[:3]] + [batch.failed_entry(results[3]),
                                                           ok_entry(results[4])])
    plan = batch.plan_response(results, budget)
    assert [entry["result"] for entry in plan.records] == [
        "Ok", "Ok", "Ok", "ProcessingFailed", "Ok"]
    assert plan.overflow == [3]


def test_unparsed_records_never_overflow_they_are_failed_already():
    bad, first, second = [batch.transform_record(record("bad", b"junk"))] + transformed(2)
    fits_one_ok = size_of([batch.failed_entry(bad), ok_entry(first), batch.failed_entry(second)])
    plan = batch.plan_response([bad, first, second], fits_one_ok)
    assert [entry["result"] for entry in plan.records] == ["ProcessingFailed", "Ok",
                                                           "ProcessingFailed"]
    assert plan.overflow == [2]


def test_a_batch_that_cannot_fit_even_as_failed_records_raises():
    with pytest.raises(batch.ResponseTooLarge, match="over the 100-byte budget"):
        batch.plan_response(transformed(3), budget=100)


def test_put_batches_respect_500_records_per_call():
    batches = batch.put_batches([b"x"] * 1201)
    assert [len(indexes) for indexes in batches] == [500, 500, 201]
    assert [index for indexes in batches for index in indexes] == list(range(1201))


def test_put_batches_respect_4_mib_per_call():
    megabyte_and_a_half = b"x" * (3 * 1024 * 1024 // 2)
    assert batch.put_batches([megabyte_and_a_half] * 5) == [[0, 1], [2, 3], [4]]


def test_delivery_stream_name_comes_from_the_arn():
    arn = "arn:aws-cn:firehose:cn-north-1:123456789012:deliverystream/access-logs"
    assert batch.delivery_stream_name(arn) == "access-logs"
