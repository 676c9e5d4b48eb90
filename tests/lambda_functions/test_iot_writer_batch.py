"""process_batch against in-memory adapters: outcomes, failure semantics, accounting."""

from __future__ import annotations

import base64
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.lambda_loader import load

batch = load("iot_writer", "iot_writer_batch")
schema = load("iot_writer", "iot_writer_schema")

HOT = (schema.AlertRule("temperature", ">", 80.0),)
T0 = 1_714_564_800_000   # 2024-05-01T12:00:00Z


class MemoryStore:
    """The table as dicts; operations for the listed devices fail like a throttled table."""

    def __init__(self, *, unchecked=(), unwritable=(), latest_failing=()) -> None:
        self.items: dict = {}
        self.latest: dict = {}
        self.unchecked, self.unwritable, self.latest_failing = set(unchecked), set(unwritable), set(latest_failing)
        self.latest_writes: list = []

    def look_up(self, keys):
        return batch.Lookup(existing={k for k in keys if k in self.items and k[0] not in self.unchecked},
                            latest={d: r.ts for d, r in self.latest.items()},
                            unchecked={k for k in keys if k[0] in self.unchecked})

    def put_latest(self, readings):
        self.latest_writes.append([r.key for r in readings])
        self.latest.update({r.device_id: r for r in readings if r.device_id not in self.latest_failing})
        return {r.device_id for r in readings if r.device_id in self.latest_failing}

    def put_readings(self, readings):
        for reading in readings:
            if reading.device_id not in self.unwritable:
                self.items[reading.key] = reading
        return {r.key for r in readings if r.device_id in self.unwritable}


class MemoryQueue:
    def __init__(self, *, failing: bool = False) -> None:
        self.messages: list = []
        self.failing = failing

    def send(self, messages):
        if self.failing:
            return {m.sequence_number for m in messages}
        self.messages.extend(messages)
        return set()


class MemoryTopic:
    def __init__(self, *, failing_devices=()) -> None:
        self.published: list = []
        self.failing_devices = set(failing_devices)

    def publish(self, alerts):
        failed = {i for i, a in enumerate(alerts) if a.device_id in self.failing_devices}
        self.published.extend(a for i, a in enumerate(alerts) if i not in failed)
        return failed


def reading(device: str, offset_s: int, temperature: float = 21.0) -> dict:
    return {"device_id": device, "ts": T0 + offset_s * 1000, "temperature": temperature, "humidity": 40}


def records(*payloads) -> list:
    """Stream records with Kinesis-like sequence numbers, in order."""
    out = []
    for index, payload in enumerate(payloads):
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        out.append(batch.StreamRecord(f"4959{index:052d}", "p", base64.b64encode(raw).decode()))
    return out


def run(recs, store=None, queue=None, topic=None, rules=HOT):
    return batch.process_batch(recs, store or MemoryStore(), queue or MemoryQueue(), topic or MemoryTopic(),
                               rules=rules)


def test_new_readings_are_written_and_reported_as_written():
    store = MemoryStore()
    result = run(records(reading("a", 0), reading("a", 60), reading("b", 0)), store)
    assert list(result.outcomes.values()) == ["written"] * 3
    assert sorted(store.items) == [("a", "2024-05-01T12:00:00.000Z"), ("a", "2024-05-01T12:01:00.000Z"),
                                   ("b", "2024-05-01T12:00:00.000Z")]
    assert result.response() == {"batchItemFailures": []}


def test_a_repeat_within_the_batch_is_a_duplicate_of_the_first_copy():
    store = MemoryStore()
    result = run(records(reading("a", 0), reading("a", 0)), store)
    assert list(result.outcomes.values()) == ["written", "duplicate"]
    assert len(store.items) == 1


def test_a_reading_already_in_the_table_is_a_duplicate_and_raises_no_alert_again():
    store, topic = MemoryStore(), MemoryTopic()
    run(records(reading("a", 0, temperature=90)), store, topic=topic)
    again = run(records(reading("a", 0, temperature=90)), store, topic=topic)
    assert (again.duplicates, again.written, again.alerts_published) == (1, 0, 0)
    assert len(topic.published) == 1


def test_a_late_reading_with_an_older_timestamp_is_not_a_duplicate():
    store = MemoryStore()
    run(records(reading("a", 60)), store)
    late = run(records(reading("a", 0)), store)
    assert late.written == 1
    assert store.latest["a"].ts == "2024-05-01T12:01:00.000Z"   # the newer one stays the latest


def test_a_malformed_record_is_quarantined_with_its_reason_and_the_original_data():
    queue = MemoryQueue()
    recs = records(reading("a", 0), b"{not json", reading("b", 0))
    result = run(recs, queue=queue)
    assert result.outcomes[recs[1].sequence_number] == "quarantined:invalid_json"
    assert (result.written, result.quarantined_by_reason) == (2, {"invalid_json": 1})
    [message] = queue.messages
    assert (message.sequence_number, message.reason, message.data) == (
        recs[1].sequence_number, "invalid_json", base64.b64encode(b"{not json").decode())


def test_a_malformed_record_that_cannot_be_quarantined_is_a_batch_item_failure():
    recs = records(reading("a", 0), b"\xff")
    result = run(recs, queue=MemoryQueue(failing=True))
    assert result.response() == {"batchItemFailures": [{"itemIdentifier": recs[1].sequence_number}]}
    assert result.written == 1


def test_a_failed_alert_fails_its_reading_which_is_then_not_written():
    store = MemoryStore()
    recs = records(reading("a", 0, temperature=95), reading("b", 0, temperature=95))
    result = run(recs, store, topic=MemoryTopic(failing_devices={"a"}))
    assert result.failed_sequence_numbers == [recs[0].sequence_number]
    assert list(store.items) == [("b", "2024-05-01T12:00:00.000Z")]   # "a" comes back and alerts again
    assert result.alerts_published == 1


def test_a_failed_latest_state_update_fails_that_devices_readings_only():
    store = MemoryStore(latest_failing={"a"})
    recs = records(reading("a", 0), reading("b", 0), reading("a", 60))
    result = run(recs, store)
    assert result.failed_sequence_numbers == [recs[0].sequence_number, recs[2].sequence_number]
    assert list(store.items) == [("b", "2024-05-01T12:00:00.000Z")]


def test_latest_state_is_written_once_per_device_with_its_newest_reading():
    store = MemoryStore()
    run(records(reading("a", 120), reading("a", 0), reading("a", 60), reading("b", 0)), store)
    assert store.latest_writes == [[("a", "2024-05-01T12:02:00.000Z"), ("b", "2024-05-01T12:00:00.000Z")]]


def test_latest_state_is_not_rewritten_for_a_batch_of_only_older_readings():
    store = MemoryStore()
    run(records(reading("a", 120)), store)
    run(records(reading("a", 0), reading("a", 60)), store)
    assert store.latest_writes == [[("a", "2024-05-01T12:02:00.000Z")]]


def test_readings_whose_existence_cannot_be_checked_are_failures():
    result = run(records(reading("a", 0), reading("b", 0)), MemoryStore(unchecked={"a"}))
    assert list(result.outcomes.values()) == ["failed", "written"]


def test_unwritten_readings_are_failures_and_their_in_batch_copies_too():
    recs = records(reading("a", 0), reading("b", 0), reading("a", 0), reading("b", 0))
    result = run(recs, MemoryStore(unwritable={"a"}))
    assert list(result.outcomes.values()) == ["failed", "written", "failed", "duplicate"]


# --- property: every record is accounted for exactly once ----------------------------

DEVICES = ["d1", "d2", "d3"]
valid_looking = st.fixed_dictionaries({
    "device_id": st.sampled_from(DEVICES),
    "ts": st.integers(T0, T0 + 3),                 # few timestamps: duplicates are common
    "temperature": st.floats(-50, 130, allow_nan=False),
    "humidity": st.integers(-5, 105),
}).map(lambda d: base64.b64encode(json.dumps(d).encode()).decode())
record_data = st.one_of(
    valid_looking,
    st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode()),   # arbitrary bytes
    st.text(max_size=24),                                                  # not even base64
)
failing = st.sets(st.sampled_from(DEVICES))


@settings(max_examples=150, deadline=None)
@given(data=st.lists(record_data, max_size=30), preexisting=st.lists(valid_looking, max_size=5),
       unchecked=failing, unwritable=failing, latest_failing=failing, alert_failing=failing,
       quarantine_down=st.booleans())
def test_every_record_is_written_duplicate_quarantined_or_failed_exactly_once(
        data, preexisting, unchecked, unwritable, latest_failing, alert_failing, quarantine_down):
    store = MemoryStore()
    run([batch.StreamRecord(f"p{i}", "p", d) for i, d in enumerate(preexisting)], store)
    store.unchecked, store.unwritable, store.latest_failing = unchecked, unwritable, latest_failing
    recs = [batch.StreamRecord(f"{i:056d}", "p", d) for i, d in enumerate(data)]
    queue, topic = MemoryQueue(failing=quarantine_down), MemoryTopic(failing_devices=alert_failing)
    before = set(store.items)

    result = run(recs, store, queue, topic)

    assert list(result.outcomes) == [r.sequence_number for r in recs]
    assert (result.written + result.duplicates + result.quarantined
            + len(result.failed_sequence_numbers)) == len(recs)
    assert len(store.items) - len(before) == result.written
    assert sorted(m.sequence_number for m in queue.messages) == sorted(
        seq for seq, outcome in result.outcomes.items() if outcome.startswith("quarantined:"))
    assert result.alerts_published == len(topic.published)

    # Nothing is lost: once the adapters recover, Lambda's redelivery from the lowest
    # failed sequence number leaves every valid reading in the table.
    if result.failed_sequence_numbers:
        store.unchecked = store.unwritable = store.latest_failing = set()
        first = [r.sequence_number for r in recs].index(result.failed_sequence_numbers[0])
        retry = run(recs[first:], store)
        assert retry.failed_sequence_numbers == []
    assert {reading.key for reading in map(decoded, data) if reading} <= set(store.items)


def decoded(data):
    try:
        return schema.decode_reading(data)
    except schema.InvalidRecord:
        return None
