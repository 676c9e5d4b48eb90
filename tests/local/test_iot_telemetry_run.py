"""The IotTelemetry local run: generator -> Kinesis -> real writer -> DynamoDB/SQS/SNS, on moto."""

from __future__ import annotations

import base64
import json
from collections import Counter

import pytest

from refarch.config import IotSettings
from refarch.lambda_code import load_lambda_module
from refarch.local.engines.event_source_mapping import EventSourceMapping
from refarch.local.engines.lambda_runtime import emf_metric_totals
from refarch.local.generators.telemetry import Telemetry, generate_telemetry
from refarch.local.iot_telemetry import run_iot_telemetry
from refarch.local.reports.iot_telemetry import IotRunReport, ReportMismatch

RULES = IotSettings().alert_rules  # temperature > 80, battery < 10

# A small run that injects every kind of record: duplicates, conflicts, late readings, alerts and
# six kinds of malformed message, among them readings sent in another device's name
# (the generator reports what it injected).
SMALL = {"devices": 5, "readings_per_device": 10, "seed": 29, "duplicate_rate": 0.1,
         "malformed_rate": 0.1, "conflict_rate": 0.1, "batch_size": 7, "shards": 2}
MISMATCH = "schema:device_id_mismatch"


def small_telemetry() -> Telemetry:
    return generate_telemetry(SMALL["devices"], SMALL["readings_per_device"], seed=SMALL["seed"],
                              duplicate_rate=SMALL["duplicate_rate"], malformed_rate=SMALL["malformed_rate"],
                              conflict_rate=SMALL["conflict_rate"], rules=RULES)


@pytest.fixture(scope="module")
def small_run() -> IotRunReport:
    return run_iot_telemetry(**SMALL)


def test_the_small_run_injects_every_kind_of_record():
    injected = small_telemetry().injected
    assert (injected.readings, injected.devices) == (50, 5)
    assert injected.duplicates > 0 and injected.late_readings > 0 and injected.alerts > 0
    assert injected.conflicts > 0
    assert len(injected.malformed_by_reason) >= 4
    assert injected.malformed_by_reason[MISMATCH] > 0


def test_a_seeded_run_accounts_for_exactly_what_the_generator_injected(small_run):
    injected = small_telemetry().injected
    assert small_run.sent == injected.records
    assert small_run.written == injected.readings == 50
    assert small_run.duplicates_skipped == injected.duplicates
    assert small_run.conflicts == small_run.writer_conflicts == injected.conflicts
    assert small_run.quarantined_by_reason == injected.malformed_by_reason
    assert small_run.alerts_published == injected.alerts
    assert small_run.failed == 0
    assert small_run.items_in_table == injected.readings + injected.devices   # + one latest state each
    assert small_run.stale_latest_states == 0   # late readings did not roll a latest state back


def test_the_same_seed_gives_the_same_report(small_run):
    assert run_iot_telemetry(**SMALL) == small_run


def test_duplicates_are_byte_identical_resends_of_a_reading():
    telemetry = small_telemetry()
    resent = sum(count - 1 for count in Counter(telemetry.records).values())
    assert resent == telemetry.injected.duplicates


def test_conflicts_are_resends_of_a_readings_device_and_time_with_other_values():
    schema = load_lambda_module("iot_writer", "iot_writer_schema")
    telemetry = small_telemetry()
    versions: dict[tuple, set] = {}
    for key, data in set(telemetry.records):
        try:
            reading = schema.decode_reading(base64.b64encode(data).decode())
        except schema.InvalidRecord:
            continue
        if reading.device_id == key:     # what the writer would store or compare
            versions.setdefault(reading.key, set()).add(tuple(reading.metrics().items()))
    assert telemetry.injected.conflicts > 0
    assert sum(len(values) - 1 for values in versions.values()) == telemetry.injected.conflicts


def sent_in_another_name(telemetry: Telemetry) -> list[tuple[str, str]]:
    """(partition key, payload device_id) of each complete JSON reading whose two differ."""
    documents = [(key, json.loads(data)) for key, data in telemetry.records
                 if data.startswith(b"{") and data.endswith(b"}")]
    return [(key, doc["device_id"]) for key, doc in documents if doc.get("device_id") != key]


def test_the_partition_key_is_the_device_id_except_in_readings_sent_in_another_devices_name():
    telemetry = small_telemetry()
    spoofed = sent_in_another_name(telemetry)
    assert len(spoofed) == telemetry.injected.malformed_by_reason[MISMATCH]
    names = {f"sensor-{n:04d}" for n in range(SMALL["devices"])}
    assert all(key in names and other in names for key, other in spoofed)   # both fleet devices


def test_a_lone_device_sends_in_a_name_outside_the_fleet():
    telemetry = generate_telemetry(1, 40, malformed_rate=1.0)
    spoofed = sent_in_another_name(telemetry)
    assert set(spoofed) == {("sensor-0000", "sensor-0001")}
    assert len(spoofed) == telemetry.injected.malformed_by_reason[MISMATCH]


def test_the_summary_prints_one_line_per_count(small_run):
    lines = small_run.summary_lines()
    assert lines[0].split() == ["records", "sent", "to", "Kinesis", str(small_run.sent)]
    assert any(line.startswith("duplicates skipped") and line.endswith(str(small_run.duplicates_skipped))
               for line in lines)


def report(**changes) -> IotRunReport:
    counts = {"sent": 11, "written": 6, "duplicates_skipped": 2, "conflicts": 1, "writer_conflicts": 1,
              "quarantined_by_reason": {"invalid_json": 1},
              "alerts_published": 1, "failed": 1, "items_in_table": 8, "latest_state_items": 2,
              "stale_latest_states": 0, "writer_quarantined": 1, "writer_alerts": 1,
              "invocations": 1, "redeliveries": 0}
    return IotRunReport(**(counts | changes))


def test_a_report_whose_counts_add_up_is_accepted():
    assert report().quarantined == 1


@pytest.mark.parametrize("changes, message", [
    ({"sent": 12}, "sent 12 != written 6 + duplicates 2 + conflicts 1 + quarantined 1 + failed 1 = 11"),
    ({"writer_conflicts": 0}, "writer counted 0 conflicts but the queue holds 1"),
    ({"items_in_table": 9}, "items in table 9 != written 6 + latest-state items 2"),
    ({"writer_quarantined": 2}, "writer quarantined 2 but the queue holds 1"),
    ({"alerts_published": 0}, "writer published 1 alerts but the subscription received 0"),
    ({"stale_latest_states": 1}, "1 latest-state items behind the newest reading"),
])
def test_a_report_refuses_counts_that_do_not_add_up(changes, message):
    with pytest.raises(ReportMismatch, match=message.replace("+", r"\+")):
        report(**changes)


# --- the event source mapping's redelivery -------------------------------------------

def emf(**metrics) -> str:
    return json.dumps({"_aws": {"CloudWatchMetrics": [{"Namespace": "refarch", "Metrics": [
        {"Name": name, "Unit": "Count"} for name in metrics]}]}} | metrics)


class FakeStream:
    quarantine_url = "quarantine"

    def __init__(self) -> None:
        self.events: list[list[str]] = []

    def kinesis_event(self, shard_id, records):
        self.events.append([r["SequenceNumber"] for r in records])
        return {"Records": records}

    def drain(self, url):
        return []


def records(*sequences: str) -> list[dict]:
    return [{"SequenceNumber": seq} for seq in sequences]


def test_a_redelivery_starts_at_the_first_failed_record_and_counts_each_record_once():
    calls = []

    def writer(event, context):   # fails "3" once; on redelivery "4" and "5" are duplicates
        calls.append(event)
        if len(calls) == 1:
            print(emf(ReadingsWritten=4, RecordsFailed=1))
            return {"batchItemFailures": [{"itemIdentifier": "3"}]}
        print(emf(ReadingsWritten=1, DuplicatesSkipped=2))
        return {"batchItemFailures": []}

    stream = FakeStream()
    mapping = EventSourceMapping(stream)
    mapping.deliver(writer, "shardId-0", records("1", "2", "3", "4", "5"))

    assert stream.events == [["1", "2", "3", "4", "5"], ["3", "4", "5"]]
    assert (mapping.written, mapping.duplicates, mapping.failed, mapping.redeliveries) == (5, 0, set(), 1)


def test_records_still_failing_after_the_last_redelivery_are_counted_as_failed():
    def writer(event, context):
        print(emf(ReadingsWritten=0, RecordsFailed=1))
        return {"batchItemFailures": [{"itemIdentifier": "2"}]}

    mapping = EventSourceMapping(FakeStream())
    mapping.deliver(writer, "shardId-0", records("1", "2"))

    assert mapping.failed == {("shardId-0", "2")}
    assert mapping.invocations == 4   # the first delivery and three redeliveries


def test_emf_lines_are_summed_and_other_output_ignored():
    printed = "\n".join([emf(ReadingsWritten=3), "not json", '{"level": "INFO"}', emf(ReadingsWritten=[1.0, 2.0])])
    assert emf_metric_totals(printed) == {"ReadingsWritten": 6}
