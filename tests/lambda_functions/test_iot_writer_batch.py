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
        return batch.Lookup(existing={k: self.items[k].metrics() for k in keys
                                      if k in self.items and k[0] not in self.unchecked},
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


def records(*payloads, partition_keys: dict[int, str] | None = None) -> list:
    """Stream records with Kinesis-like sequence numbers, in order. The partition key is
    the payload's device_id, as the topic rule sets it, unless `partition_keys` (record
    index -> key) says otherwise."""
    out = []
    for index, payload in enumerate(payloads):
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        key = payload["device_id"] if isinstance(payload, dict) else "p"
        key = (partition_keys or {}).get(index, key)
        out.append(batch.StreamRecord(f"4959{index:052d}", key, base64.b64encode(raw).decode()))
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


def test_a_reading_under_another_devices_partition_key_is_quarantined_not_written():
    store, queue, topic = MemoryStore(), MemoryQueue(), MemoryTopic()
    # Device "a", on its own topic, sends a hot reading in "b"'s name, with the key of b's real reading.
    recs = records(reading("a", 0), reading("b", 0, temperature=95), reading("b", 0),
                   partition_keys={1: "a"})

    result = run(recs, store, queue, topic)

    assert list(result.outcomes.values()) == ["written", "quarantined:schema:device_id_mismatch", "written"]
    assert result.response() == {"batchItemFailures": []}   # never retried
    [message] = queue.messages
    assert message == batch.QuarantineMessage(
        recs[1].sequence_number, "a", "schema:device_id_mismatch",
        "payload device_id 'b' != partition key 'a'", recs[1].data)
    assert store.items[("b", "2024-05-01T12:00:00.000Z")].temperature == 21.0   # b's own reading
    assert (store.latest["b"].temperature, topic.published) == (21.0, [])   # no state, no alert for b


def test_a_reading_with_an_empty_partition_key_is_quarantined_as_a_mismatch():
    queue = MemoryQueue()
    recs = records(reading("a", 0), reading("a", 60), partition_keys={1: ""})

    result = run(recs, queue=queue)

    assert (result.written, result.quarantined_by_reason) == (1, {"schema:device_id_mismatch": 1})
    [message] = queue.messages
    assert (message.partition_key, message.detail) == ("", "payload device_id 'a' != partition key ''")


def test_a_missing_partition_key_in_the_event_is_read_as_empty():
    event = {"eventID": "shardId-000000000001:49", "kinesis": {"sequenceNumber": "49", "data": "e30="}}
    assert batch.StreamRecord.from_event(event) == batch.StreamRecord("49", "", "e30=", "shardId-000000000001")


def test_a_malformed_payload_keeps_its_own_reason_whatever_its_partition_key():
    recs = records(b"{not json", reading("a", 0) | {"humidity": 140}, partition_keys={0: "", 1: "b"})
    assert list(run(recs).outcomes.values()) == ["quarantined:invalid_json",
                                                 "quarantined:schema:humidity_out_of_range"]


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


# --- conflicts: the same device and time, other values --------------------------------

def test_a_resent_reading_with_other_values_is_a_conflict_kept_in_the_quarantine_not_a_duplicate():
    store, queue = MemoryStore(), MemoryQueue()
    run(records(reading("a", 0, temperature=21.0)), store)
    recs = records(reading("a", 0, temperature=23.5), reading("a", 0, temperature=21.0))

    result = run(recs, store, queue)

    assert list(result.outcomes.values()) == ["conflict", "duplicate"]
    assert (result.conflicts, result.duplicates, result.quarantined) == (1, 1, 0)   # counted apart
    assert result.response() == {"batchItemFailures": []}       # kept, not retried forever
    [message] = queue.messages
    assert (message.sequence_number, message.reason, message.data) == (
        recs[0].sequence_number, "conflict:values_differ", recs[0].data)
    assert message.detail == ("stored temperature=21.0 humidity=40.0; "
                              "received temperature=23.5 humidity=40.0")
    assert store.items[("a", "2024-05-01T12:00:00.000Z")].temperature == 21.0   # first writer wins


def test_a_copy_in_the_same_batch_with_other_values_conflicts_with_the_reading_just_written():
    store, queue = MemoryStore(), MemoryQueue()
    recs = records(reading("a", 0, temperature=21.0), reading("a", 0, temperature=21.0),
                   reading("a", 0) | {"battery": 55})

    result = run(recs, store, queue)

    assert list(result.outcomes.values()) == ["written", "duplicate", "conflict"]
    [message] = queue.messages
    assert message.detail == ("stored temperature=21.0 humidity=40.0; "
                              "received temperature=21.0 humidity=40.0 battery=55.0")


def test_a_conflict_that_cannot_be_quarantined_is_a_batch_item_failure():
    store = MemoryStore()
    run(records(reading("a", 0, temperature=21.0)), store)
    recs = records(reading("a", 0, temperature=30.0))
    result = run(recs, store, MemoryQueue(failing=True))
    assert result.failed_sequence_numbers == [recs[0].sequence_number]


# --- property: every record is accounted for exactly once ----------------------------

DEVICES = ["d1", "d2", "d3"]
documents = st.fixed_dictionaries({
    "device_id": st.sampled_from(DEVICES),
    "ts": st.integers(T0, T0 + 3),                 # few timestamps: duplicates are common
    "temperature": st.floats(-50, 130, allow_nan=False),
    "humidity": st.integers(-5, 105),
})


def encode(document: dict) -> str:
    return base64.b64encode(json.dumps(document).encode()).decode()


# (partition key, data) as the topic rule sends them: the key is the publishing device.
valid_looking = documents.map(lambda d: (d["device_id"], encode(d)))
record_data = st.one_of(
    valid_looking,
    st.tuples(st.sampled_from(["", *DEVICES]), documents.map(encode)),     # any key: often another device's
    st.tuples(st.sampled_from(DEVICES), st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode())),
    st.tuples(st.sampled_from(DEVICES), st.text(max_size=24)),            # not even base64
)
failing = st.sets(st.sampled_from(DEVICES))


@settings(max_examples=150, deadline=None)
@given(data=st.lists(record_data, max_size=30), preexisting=st.lists(valid_looking, max_size=5),
       unchecked=failing, unwritable=failing, latest_failing=failing, alert_failing=failing,
       quarantine_down=st.booleans())
def test_every_record_is_written_duplicate_conflict_quarantined_or_failed_exactly_once(
        data, preexisting, unchecked, unwritable, latest_failing, alert_failing, quarantine_down):
    store = MemoryStore()
    run([batch.StreamRecord(f"p{i}", key, d) for i, (key, d) in enumerate(preexisting)], store)
    store.unchecked, store.unwritable, store.latest_failing = unchecked, unwritable, latest_failing
    recs = [batch.StreamRecord(f"{i:056d}", key, d) for i, (key, d) in enumerate(data)]
    queue, topic = MemoryQueue(failing=quarantine_down), MemoryTopic(failing_devices=alert_failing)
    before = set(store.items)

    result = run(recs, store, queue, topic)

    assert list(result.outcomes) == [r.sequence_number for r in recs]
    assert (result.written + result.duplicates + result.conflicts + result.quarantined
            + len(result.failed_sequence_numbers)) == len(recs)
    assert len(store.items) - len(before) == result.written
    assert sorted(m.sequence_number for m in queue.messages) == sorted(
        seq for seq, outcome in result.outcomes.items() if outcome.startswith("quarantined:") or outcome == "conflict")
    # A conflict is a reading whose key is stored with other values; a duplicate has the same ones.
    for seq, outcome in result.outcomes.items():
        reading = decoded(next(r for r in recs if r.sequence_number == seq))
        if outcome in ("duplicate", "conflict"):
            same = store.items[reading.key].metrics() == reading.metrics()
            assert same == (outcome == "duplicate"), (seq, outcome)
    assert result.alerts_published == len(topic.published)

    # Nothing is lost: once the adapters recover, Lambda's redelivery from the lowest
    # failed sequence number leaves every valid reading in the table.
    if result.failed_sequence_numbers:
        store.unchecked = store.unwritable = store.latest_failing = set()
        first = [r.sequence_number for r in recs].index(result.failed_sequence_numbers[0])
        retry = run(recs[first:], store)
        assert retry.failed_sequence_numbers == []
    accepted = {reading.key for reading in map(decoded, recs) if reading}
    assert accepted <= set(store.items)
    # ... and a record sent under another device's key left nothing: whatever is new in
    # the table is a reading some record sent on its own device's key.
    assert set(store.items) - before <= accepted


def decoded(record):
    """The reading a record may store: a valid payload, sent under its own device's id."""
    try:
        reading = schema.decode_reading(record.data)
    except schema.InvalidRecord:
        return None
    return reading if reading.device_id == record.partition_key else None
