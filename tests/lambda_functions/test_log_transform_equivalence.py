"""transform_batch (fast path, flat loop, bulk sizes) gives the response the full parser gives
(transform_record + plan_response), byte for byte, on every corpus, cold and warm cache,
and in the overflow and too-large cases."""

from __future__ import annotations

import base64
import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refarch.local.generators.access_log import generate_access_log
from tests.lambda_loader import load

parse = load("log_transform", "log_transform_parse")
fast = load("log_transform", "log_transform_fast")
batch = load("log_transform", "log_transform_batch")
log_transform = load("log_transform", "log_transform")

FIREHOSE_BATCH = 1000  # records per generated batch


class LambdaContext:
    function_name = "log-transform"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:log-transform"
    aws_request_id = "6f1c6a0e-0000-4000-8000-000000000000"


def records_of(datas: list[str]) -> list[dict]:
    return [{"recordId": f"{index:056d}", "approximateArrivalTimestamp": 1717200000000,
             "data": data} for index, data in enumerate(datas)]


def encoded(lines: list[bytes]) -> list[str]:
    return [base64.b64encode(line).decode() for line in lines]


def full_parser_plan(records: list[dict], budget: int = batch.RESPONSE_BUDGET_BYTES):
    return batch.plan_response([batch.transform_record(record) for record in records], budget)


def assert_identical(records: list[dict], budget: int = batch.RESPONSE_BUDGET_BYTES,
                     expected=None) -> None:
    expected = expected or full_parser_plan(records, budget)
    outcome = batch.transform_batch(records, budget)
    if outcome.records != expected.records:  # name the first record that differs
        position = next(index for index, (got, want)
                        in enumerate(zip(outcome.records, expected.records)) if got != want)
        line = base64.b64decode(records[position]["data"])
        raise AssertionError(f"record {position} {line!r}: {outcome.records[position]} "
                             f"!= {expected.records[position]}")
    assert json.dumps({"records": outcome.records}) == json.dumps({"records": expected.records})
    assert (outcome.overflow, outcome.size) == (expected.overflow, expected.size)
    assert outcome.size == len(json.dumps({"records": outcome.records}))


def assert_identical_cold_and_warm(records: list[dict]) -> None:
    expected = full_parser_plan(records)
    fast.clear_timestamp_caches()
    assert_identical(records, expected=expected)
    assert fast._utc_minutes  # the fast path ran, and now its cache is warm
    assert_identical(records, expected=expected)


# The lines the parser's and the handler's tests are built on, and the local run's sample.
EXISTING_CORPUS = [
    b'127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326\n',
    b'192.0.2.10 - - [10/Oct/2000:13:55:36 -0700] "GET /index.html?lang=en&x=1 HTTP/1.1" 200 '
    b'512 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"',
    b'2001:db8:85a3::8a2e:370:7334 - frank [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 1',
    b'10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 -',
    b'10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 9876543210 "-" "-"',
    rb'10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1 '
    rb'"http://example.com/?q=\"hi\"" "Agent \"quoted\" C:\\dir"',
    rb'10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /search?q=\"x\" HTTP/1.1" 200 1',
    rb'10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "-" "bot\x0a\tname"',
    '10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "-" "Zoë/1.0"'.encode(),
    *[f'10.0.0.1 - - [{time}] "GET / HTTP/1.1" 200 1'.encode() for time in (
        "10/Oct/2000:13:55:36 +0000", "10/Oct/2000:01:15:00 +0530", "31/Dec/1999:23:30:00 -0100",
        "29/Feb/2024:12:00:00 +1400", "01/Jan/0999:00:00:00 -0000", "10/Oct/2000:13:55:36",
        "10/Okt/2000:13:55:36 -0700", "31/Feb/2000:13:55:36 -0700", "10/Oct/2000:24:00:00 -0700",
        "10/Oct/2000:13:55:36 -0760", "2000-10-10T13:55:36Z", "01/Jan/0001:00:30:00 +0100")],
    *[f'10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "{request}" 200 1'.encode() for request in (
        "GET /a/b?x=1&y=2 HTTP/1.1", "GET /a? HTTP/1.1", "GET /a?x=1?y HTTP/2.0", "GET /legacy",
        "GET", "GET HTTP/1.1", "GET /a b HTTP/1.1", "-", "", r"\x16\x03\x01\x02\x00")],
    b"", b"\n", b"hello world", b"junk", b"this is not an access log line\n",
    b'127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 2000 2326',
    b'127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] GET /apache_pb.gif HTTP/1.0" 200 2326',
    b'10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 9223372036854775808',
    b'127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 2326\xff\xfe\n',
]


def test_the_existing_corpus_gives_identical_responses_cold_and_warm():
    records = records_of(encoded(EXISTING_CORPUS))
    assert sum(fast.fast_json_line(line) is not None for line in EXISTING_CORPUS) >= 10
    assert_identical_cold_and_warm(records)


def test_the_local_runs_sample_gives_identical_responses_cold_and_warm():
    lines = [generated.data for generated in generate_access_log(3000, seed=5)]
    assert_identical_cold_and_warm(records_of(encoded(lines)))


def test_invalid_base64_among_good_records_gives_an_identical_response():
    good = encoded(EXISTING_CORPUS[:3])
    datas = [good[0], "not*base64!", good[1], "QUJ", "", "QUJD", "ünïcode", good[2]]
    assert_identical_cold_and_warm(records_of(datas))


def test_record_ids_that_need_escaping_are_sized_exactly():
    records = records_of(encoded(EXISTING_CORPUS[:4]))
    for record, record_id in zip(records, ['quote"d', "back\\slash", "tab\t", "émoji 🙂"]):
        record["recordId"] = record_id
    outcome = batch.transform_batch(records)
    assert outcome.size == len(json.dumps({"records": outcome.records}))
    assert_identical(records)


# Seeded lines mixing the ordinary with everything awkward a field can hold.
CLEAN = {
    "client": ["192.0.2.{n}", "10.{n}.0.1", "2001:db8::{n:x}", "::1", "host{n}.example.com"],
    "ident": ["-"] * 9 + ["ident{n}"],
    "user": ["-"] * 8 + ["frank", "user{n}@example.com"],
    "method": ["GET"] * 8 + ["POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PROPFIND", "M-SEARCH"],
    "target": ["/", "/index.html", "/products/{n}", "/api/v1/orders?id={n}&page=2", "/a?",
               "?q={n}", "/a?x={n}?y", "*", "http://proxy.example/{n}", "/%7Euser/{n}",
               "/static/app.{n:x}.js", "/search?q=item{n}&sort=price&lang=en-GB"],
    "protocol": ["HTTP/1.1"] * 6 + ["HTTP/1.0", "HTTP/2.0", "HTTP/2", "RTSP/1.0"],
    "status": ["200"] * 6 + ["304", "404", "301", "500", "101", "599"],
    "size": ["{n}", "{n}", "-", "0", "999999999999999999", "12"],
    "referrer": ["-", "-", "https://www.example.com/", "https://www.google.com/search?q=x{n}", ""],
    "agent": ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
              "Gecko) Chrome/124.0.0.0 Safari/537.36", "curl/8.6.0", "-", "", "x",
              "Mozilla/5.0 (X11) " * 60],
    "ending": ["\n"] * 6 + ["", "\r\n", "\r"],
}
AWKWARD = {
    "client": ["-", 'a"b', "caf\u00e9", "x\x01y", "a\\b", "a\tb"],
    "ident": ['"', "\\", "id\x7f"],
    "user": ["fr\\ank", "\u00e9mile", "a b"],
    "method": ["get", "G\u00c9T", "GE T", "", '"GET'],
    "target": ["/a b", "", "/\\\"q", "/\u00e9", "/a\x00b", "/a\tb", "/a HTTP/1.1 x"],
    "protocol": ["", "http/1.1", "HTTP/1.1.2", "HTTP/", "HTTP/1.1 extra", "HTTP/\u0661"],
    "status": ["000", "099", "20", "2000", "abc", "\u0662\u0660\u0660"],
    "size": ["00", "0123", "9223372036854775807", "9223372036854775808", "1" * 20, "-1", ""],
    "referrer": ['https://example.org/?q=\\"red\\"', "\\\\", "a\\x0ab", "\u2028", "caf\u00e9"],
    "agent": ['Mozilla \\"Quoted\\" Crawler', "C:\\\\dir", "bot\\x0a\\tname", "tab\there",
              "Zo\u00eb/1.0", 'un"escaped', "\u00e9" * 300],
    "ending": ["\n\n", "\r\r\n", " ", "\n\r", "\nsecond line"],
}
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
ZONES = ["-0700", "+0000", "+0530", "-0000", "+1400", "-1200", "+0545", "-0930"]


def timestamp(rng: random.Random, awkward: bool) -> str:
    if awkward:
        return rng.choice([
            f"{rng.randrange(29, 32):02d}/{rng.choice(MONTHS)}/20{rng.randrange(30):02d}:"
            f"10:00:00 +0000",  # day 29-31: some months have none
            "10/Oct/2000:24:00:00 -0700", "10/Oct/2000:13:55:60 -0700",
            "10/Okt/2000:13:55:36 -0700", "10/Oct/2000:13:55:36 -0760",
            "10/Oct/2000:13:55:36 +2400", "01/Jan/0001:00:30:00 +0100",
            "31/Dec/9999:23:59:59 -0100", "10/Oct/2000:13:55:36", "1/Oct/2000:13:55:36 +0000",
            "10/oct/2000:13:55:36 +0000"])
    return (f"{rng.randrange(1, 29):02d}/{rng.choice(MONTHS)}/{rng.randrange(1990, 2031)}:"
            f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d} "
            f"{rng.choice(ZONES)}")


def generated_line(rng: random.Random) -> bytes:
    awkward = set(rng.sample(sorted(AWKWARD), rng.randrange(1, 3))) if rng.random() < 0.4 else set()
    n = rng.randrange(1_000_000)

    def field(name: str) -> str:
        return rng.choice(AWKWARD[name] if name in awkward else CLEAN[name]).format(n=n)

    if rng.random() < 0.05:
        request = rng.choice(["-", "", "GET", "GET /legacy", "GET HTTP/1.1", r"\x16\x03\x01"])
    else:
        request = f"{field('method')} {field('target')} {field('protocol')}"
    line = (f"{field('client')} {field('ident')} {field('user')} "
            f"[{timestamp(rng, rng.random() < 0.05)}] \"{request}\" {field('status')} "
            f"{field('size')}")
    if rng.random() < 0.8:  # combined; the rest common
        line += f' "{field("referrer")}" "{field("agent")}"'
    raw = (line + field("ending")).encode()
    if rng.random() < 0.05:  # one byte flipped anywhere
        position = rng.randrange(len(raw))
        raw = raw[:position] + bytes([rng.randrange(256)]) + raw[position + 1:]
    return raw


def test_50000_generated_lines_give_identical_responses_cold_and_warm():
    rng = random.Random(15)
    lines = [generated_line(rng) for _ in range(50_000)]
    taken = sum(fast.fast_json_line(line) is not None for line in lines)
    parsed = sum(batch.transform_record(record).output is not None
                 for record in records_of(encoded(lines[:5000])))
    assert 0.4 < taken / len(lines) < 0.8  # both paths are exercised, and often
    assert 0.6 < parsed / 5000 < 0.95  # and so are both outcomes
    for start in range(0, len(lines), FIREHOSE_BATCH):
        assert_identical_cold_and_warm(records_of(encoded(lines[start:start + FIREHOSE_BATCH])))


def test_the_handler_answers_as_the_full_parser_does():
    rng = random.Random(16)
    datas = encoded([generated_line(rng) for _ in range(2000)]) + ["not*base64!"]
    event = {"invocationId": "invocation-1", "region": "eu-west-1",
             "deliveryStreamArn": "arn:aws:firehose:eu-west-1:123456789012:deliverystream/logs",
             "records": records_of(datas)}
    response = log_transform.handler(event, LambdaContext())
    expected = full_parser_plan(event["records"])
    assert json.dumps(response) == json.dumps({"records": expected.records})


# Overflow and too large: the bulk total gives way to the exact plan, which is unchanged.
GARBAGE_REQUEST = b'10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "' + b"\\x16" * 400 + b'" 400 0\n'


def overflow_records() -> list[dict]:
    rng = random.Random(17)
    # Last, a garbage request line: dropped from the JSON, so its Ok entry is the smaller.
    return records_of(encoded([generated_line(rng) for _ in range(60)] + [GARBAGE_REQUEST]))


def test_every_budget_from_too_small_to_ample_gives_the_full_parsers_plan():
    records = overflow_records()
    failed = len(json.dumps({"records": [batch.failed_entry(batch.transform_record(record))
                                         for record in records]}))
    ample = full_parser_plan(records).size + 3000
    outcomes = set()
    for budget in range(failed - 50, ample, 37):
        try:
            expected = full_parser_plan(records, budget)
        except batch.ResponseTooLarge as error:
            with pytest.raises(batch.ResponseTooLarge, match=str(error)):
                batch.transform_batch(records, budget)
            outcomes.add("too large")
            continue
        outcomes.add("overflow" if expected.overflow else "fits")
        assert_identical(records, budget, expected)
    assert outcomes == {"too large", "overflow", "fits"}


def test_an_ok_entry_that_shrinks_sends_the_batch_to_the_exact_plan():
    records = overflow_records()
    all_ok = full_parser_plan(records).size  # the default budget is ample: every record Ok
    # Upgrading in input order, the records before the last overflow this budget, though
    # the all-Ok total fits it: only the exact plan sees that.
    expected = full_parser_plan(records, all_ok)
    assert expected.overflow and expected.size < all_ok
    assert_identical(records, all_ok, expected)


_record = st.fixed_dictionaries({
    "recordId": st.text(max_size=20),
    "data": st.sampled_from(encoded(EXISTING_CORPUS)) | st.text(max_size=30)
    | st.binary(max_size=80).map(lambda raw: base64.b64encode(raw).decode()),
})


@settings(max_examples=200, deadline=None)
@given(records=st.lists(_record, max_size=12), budget=st.integers(0, 8000))
def test_any_records_and_budget_give_the_full_parsers_plan_or_its_error(records, budget):
    try:
        full_parser_plan(records, budget)
    except batch.ResponseTooLarge as error:
        with pytest.raises(batch.ResponseTooLarge, match=str(error)):
            batch.transform_batch(records, budget)
        return
    assert_identical(records, budget)


# Dynamic partitioning: both paths give every Ok record the same dt key, the line's UTC day
# when the table's projection (first day .. the day after arrival) covers it, else "undated".
partition = load("log_transform", "log_transform_partition")
ARRIVAL_MS = 1717200000000  # 2024-06-01T00:00:00Z
KEYS = {  # the line's own time -> its dt key, for a record that arrived at ARRIVAL_MS
    "31/May/2024:23:30:00 -0700": "2024-06-01",  # the UTC day, not the server's
    "01/Jun/2024:01:00:00 +0200": "2024-05-31",  # a line from before midnight, arriving after
    "02/Jun/2024:23:59:59 +0000": "2024-06-02",  # a clock a day ahead: still projected
    "03/Jun/2024:00:00:00 +0000": "undated",     # beyond tomorrow: no partition covers it yet
    "01/Jan/2020:00:00:00 +0000": "2020-01-01",  # the first projected day
    "31/Dec/2019:23:59:59 +0000": "undated",
    "01/Jan/2020:00:30:00 +0100": "undated",     # 2019-12-31 in UTC
    "10/Oct/2000:13:55:36 -0700": "undated",
}


@pytest.mark.parametrize("request_line", ["GET /a HTTP/1.1",        # the fast path
                                          "GET /a b HTTP/1.1"])     # the full parser (four words)
def test_both_paths_give_each_line_its_utc_day_or_the_undated_partition(request_line):
    lines = [f'10.0.0.1 - - [{time}] "{request_line}" 200 1'.encode() for time in KEYS]
    assert all((fast.fast_json_line(line) is not None) == (request_line == "GET /a HTTP/1.1") for line in lines)
    records = [dict(record, approximateArrivalTimestamp=ARRIVAL_MS) for record in records_of(encoded(lines))]
    partitioner = partition.Partitioner("2020-01-01")

    outcome = batch.transform_batch(records, partitioner=partitioner)
    expected = batch.plan_response([batch.transform_record(record, partitioner) for record in records])

    assert [entry["metadata"]["partitionKeys"]["dt"] for entry in outcome.records] == list(KEYS.values())
    assert json.dumps({"records": outcome.records}) == json.dumps({"records": expected.records})
    assert outcome.size == len(json.dumps({"records": outcome.records}))


def test_a_record_without_an_arrival_time_is_judged_against_the_clock():
    line = b'10.0.0.1 - - [31/May/2024:23:30:00 -0700] "GET / HTTP/1.1" 200 1'
    [record] = records_of(encoded([line]))
    del record["approximateArrivalTimestamp"]
    then, years_later = partition.Partitioner(now_ms=ARRIVAL_MS), partition.Partitioner(now_ms=ARRIVAL_MS * 2)
    assert batch.transform_batch([record], partitioner=then).records[0]["metadata"] == {
        "partitionKeys": {"dt": "2024-06-01"}}
    assert batch.transform_record(record, years_later).partition == "2024-06-01"
    assert batch.transform_record(record, partition.Partitioner("2024-06-02", now_ms=ARRIVAL_MS)).partition == "undated"


def test_a_first_day_that_is_not_a_date_fails_when_the_partitioner_is_made():
    with pytest.raises(ValueError):
        partition.Partitioner("2024-13-01")
