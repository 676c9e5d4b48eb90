"""The reading schema and the alert rules: pure functions, no AWS."""

from __future__ import annotations

import base64
import json

import pytest

from tests.lambda_loader import load

schema = load("iot_writer", "iot_writer_schema")


def encoded(document) -> str:
    text = document if isinstance(document, str) else json.dumps(document)
    return base64.b64encode(text.encode()).decode()


GOOD = {"device_id": "sensor-001", "ts": "2024-05-01T12:00:00Z", "temperature": 21.5, "humidity": 40}


def with_raw_temperature(number_text: str) -> str:
    """GOOD as JSON text with a temperature json.dumps cannot write."""
    return json.dumps(GOOD | {"temperature": 0}).replace('"temperature": 0', f'"temperature": {number_text}')


def test_a_valid_reading_is_decoded_with_its_timestamp_normalised_to_utc_milliseconds():
    reading = schema.decode_reading(encoded(GOOD | {"battery": 88}))
    assert reading == schema.Reading(device_id="sensor-001", ts="2024-05-01T12:00:00.000Z",
                                     epoch_ms=1_714_564_800_000, temperature=21.5, humidity=40.0,
                                     battery=88.0)


@pytest.mark.parametrize("ts", [
    "2024-05-01T12:00:00Z",
    "2024-05-01T14:00:00+02:00",
    "2024-05-01T07:00:00.000-05:00",
    "2024-05-01T12:00:00.000999+00:00",   # sub-millisecond digits are truncated
    1_714_564_800_000,
])
def test_every_accepted_timestamp_form_normalises_to_the_same_key(ts):
    assert schema.decode_reading(encoded(GOOD | {"ts": ts})).key == ("sensor-001", "2024-05-01T12:00:00.000Z")


def test_optional_battery_may_be_absent_or_null():
    assert schema.decode_reading(encoded(GOOD)).battery is None
    assert schema.decode_reading(encoded(GOOD | {"battery": None})).metrics() == {
        "temperature": 21.5, "humidity": 40.0}


def test_values_are_rounded_to_the_sensor_resolution():
    assert schema.decode_reading(encoded(GOOD | {"temperature": 21.123456})).temperature == 21.123


@pytest.mark.parametrize("data, reason", [
    ("not base64!", "invalid_base64"),
    (base64.b64encode(b"\xff\xfe\x00").decode(), "invalid_utf8"),
    (encoded('{"device_id": "a", '), "invalid_json"),
    (encoded('{"temperature": NaN}'), "invalid_json"),
    (encoded([GOOD]), "schema:not_an_object"),
    (encoded(GOOD | {"pressure": 1013}), "schema:unexpected_field"),
    (encoded({k: v for k, v in GOOD.items() if k != "device_id"}), "schema:device_id_missing"),
    (encoded(GOOD | {"device_id": ""}), "schema:device_id_invalid"),
    (encoded(GOOD | {"device_id": "x" * 129}), "schema:device_id_invalid"),
    (encoded(GOOD | {"device_id": "room 1"}), "schema:device_id_invalid"),
    (encoded(GOOD | {"ts": "2024-05-01T12:00:00"}), "schema:ts_invalid"),          # no time zone
    (encoded(GOOD | {"ts": "yesterday"}), "schema:ts_invalid"),
    (encoded(GOOD | {"ts": 1.7e12}), "schema:ts_invalid"),
    (encoded(GOOD | {"ts": 1_000}), "schema:ts_out_of_range"),
    (encoded(GOOD | {"ts": "2150-01-01T00:00:00Z"}), "schema:ts_out_of_range"),
    (encoded(GOOD | {"temperature": 500}), "schema:temperature_out_of_range"),
    (encoded(with_raw_temperature("1e400")), "schema:temperature_out_of_range"),   # parses as inf
    (encoded(with_raw_temperature("9" * 5000)), "invalid_json"),   # beyond int-parsing limits
    (encoded(GOOD | {"temperature": "21"}), "schema:temperature_invalid"),
    (encoded(GOOD | {"temperature": True}), "schema:temperature_invalid"),
    (encoded({k: v for k, v in GOOD.items() if k != "humidity"}), "schema:humidity_missing"),
    (encoded(GOOD | {"humidity": -1}), "schema:humidity_out_of_range"),
    (encoded(GOOD | {"battery": 101}), "schema:battery_out_of_range"),
])
def test_malformed_records_are_rejected_with_a_reason_code(data, reason):
    with pytest.raises(schema.InvalidRecord) as rejected:
        schema.decode_reading(data)
    assert rejected.value.reason == reason


def test_deeply_nested_json_is_rejected_not_crashed_on():
    with pytest.raises(schema.InvalidRecord) as rejected:
        schema.decode_reading(encoded("[" * 100_000 + "]" * 100_000))
    assert rejected.value.reason == "invalid_json"


def test_alert_rules_are_parsed_and_a_repeated_rule_is_kept_once():
    rules = schema.parse_alert_rules(
        '[{"metric": "temperature", "op": ">", "value": 80},'
        ' {"metric": "battery", "op": "<=", "value": 10},'
        ' {"metric": "temperature", "op": ">", "value": 80}]')
    assert rules == (schema.AlertRule("temperature", ">", 80.0), schema.AlertRule("battery", "<=", 10.0))


@pytest.mark.parametrize("text, message", [
    ("{", "not valid JSON"),
    ('{"metric": "temperature"}', "expected a JSON list"),
    ('[{"metric": "pressure", "op": ">", "value": 1}]', "rule 1: metric 'pressure' is not one of"),
    ('[{"metric": "humidity", "op": "!=", "value": 1}]', "rule 1: op '!=' is not one of"),
    ('[{"metric": "humidity", "op": ">", "value": "high"}]', "rule 1: value 'high' is not a number"),
    ('[{"metric": "humidity", "op": ">"}]', "rule 1: expected an object with metric, op and value"),
])
def test_bad_alert_rules_say_which_rule_is_wrong(text, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        schema.parse_alert_rules(text)


def test_alerts_name_device_metric_value_threshold_and_time_for_each_breached_rule():
    reading = schema.decode_reading(encoded(GOOD | {"temperature": 85.0, "battery": 5}))
    rules = (schema.AlertRule("temperature", ">", 80.0), schema.AlertRule("battery", "<", 10.0),
             schema.AlertRule("humidity", ">", 90.0))
    assert [a.message() for a in schema.alerts_for(reading, rules)] == [
        {"device_id": "sensor-001", "metric": "temperature", "value": 85.0, "op": ">",
         "threshold": 80.0, "ts": "2024-05-01T12:00:00.000Z"},
        {"device_id": "sensor-001", "metric": "battery", "value": 5.0, "op": "<",
         "threshold": 10.0, "ts": "2024-05-01T12:00:00.000Z"},
    ]


def test_a_rule_on_an_absent_optional_metric_never_fires():
    reading = schema.decode_reading(encoded(GOOD))
    assert schema.alerts_for(reading, (schema.AlertRule("battery", "<", 10.0),)) == []
