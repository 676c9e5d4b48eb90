"""Throughput of the Firehose log-transform Lambda against the naive blueprint approach.

Run from the repository root: `python benchmarks/log_transform.py`. Prints figures;
asserts nothing. One seeded ~5 MB Firehose event (common and combined lines, several
status codes, IPv6 clients, escaped quotes, a few malformed records) is transformed by:

  naive blueprint  per line: base64-decode, re.match with a simple regex, json.dumps of
                   the raw groups, base64-encode (strings only, no UTC conversion, no
                   typed fields, no response-size accounting)
  pure core        transform_record for every record + plan_response (the 6 MB budget)
  handler          the Lambda handler itself, with Powertools logging and metrics

Best of ROUNDS runs each, timed with time.perf_counter in one process.
"""

from __future__ import annotations

import base64
import json
import os
import random
import re
import sys
import time
from pathlib import Path

# Powertools writes a log line and an EMF blob per invocation; keep the table readable.
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.lambda_loader import load  # noqa: E402

parse = load("log_transform", "log_transform_parse")
batch = load("log_transform", "log_transform_batch")
log_transform = load("log_transform", "log_transform")

ROUNDS = 5
EVENT_BYTES = 5_000_000
LAMBDA_RESPONSE_LIMIT = 6 * 1024 * 1024
SEED = 20240601

AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    r"Mozilla/5.0 (compatible; \"Quoted\" Crawler/1.0)",
    "curl/8.6.0",
    "python-requests/2.31.0",
    "-",
]
REFERRERS = ["-", "https://www.example.com/", "https://www.google.com/search?q=shoes",
             r"https://example.org/?q=\"red shoes\""]
PATHS = ["/", "/index.html", "/products/{n}", "/api/v1/orders?id={n}&page={p}",
         "/static/js/app.{n:x}.js", "/search?q=item{n}&sort=price", "/images/{n}.png"]
STATUSES = [200] * 70 + [304] * 10 + [404] * 8 + [301] * 5 + [500] * 3 + [400] * 2 + [408] * 2
# A batch holds what the web servers wrote during one Firehose buffer interval: here
# three servers in different time zones over five minutes.
SERVER_ZONES = ["-0700", "+0000", "+0530"]
BUFFER_SECONDS = 300


def access_line(rng: random.Random, second: int = 0) -> bytes:
    if rng.random() < 0.1:
        client = f"2001:db8:{rng.randrange(65536):x}::{rng.randrange(65536):x}"
    else:
        client = ".".join(str(rng.randrange(1, 255)) for _ in range(4))
    status = rng.choice(STATUSES)
    if status == 408:
        request, size = "-", "-"
    else:
        path = rng.choice(PATHS).format(n=rng.randrange(100_000), p=rng.randrange(1, 20))
        method = "GET" if rng.random() < 0.85 else rng.choice(["POST", "HEAD", "PUT"])
        request = f"{method} {path} HTTP/{rng.choice(['1.1', '1.1', '2.0', '1.0'])}"
        size = "-" if status == 304 else str(rng.randrange(200, 80_000))
    user = "-" if rng.random() < 0.95 else f"user{rng.randrange(100)}"
    minute, second = divmod(second, 60)
    time_text = f"01/Jun/2024:10:{minute:02d}:{second:02d} {rng.choice(SERVER_ZONES)}"
    line = f'{client} - {user} [{time_text}] "{request}" {status} {size}'
    if rng.random() < 0.75:  # combined; the rest common
        line += f' "{rng.choice(REFERRERS)}" "{rng.choice(AGENTS)}"'
    return (line + "\n").encode()


def malformed_line(rng: random.Random) -> bytes:
    kind = rng.randrange(4)
    if kind == 0:
        line = access_line(rng)
        return line[: rng.randrange(1, len(line) - 1)]  # truncated
    if kind == 1:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(10, 120)))  # binary noise
    if kind == 2:
        return b""
    return b"ERROR [main] connection reset by peer\n"


def firehose_event(rng: random.Random, target_bytes: int) -> tuple[dict, int]:
    records, event_bytes, line_bytes = [], 200, 0
    while event_bytes < target_bytes:
        second = min(BUFFER_SECONDS - 1, event_bytes * BUFFER_SECONDS // target_bytes)
        line = malformed_line(rng) if rng.random() < 0.03 else access_line(rng, second)
        data = base64.b64encode(line).decode()
        records.append({"recordId": f"{len(records):056d}",
                        "approximateArrivalTimestamp": 1717200000000 + len(records),
                        "data": data})
        event_bytes += len(data) + 130
        line_bytes += len(line)
    event = {"invocationId": "00000000-0000-4000-8000-000000000000",
             "deliveryStreamArn": "arn:aws:firehose:eu-west-1:123456789012:deliverystream/bench",
             "region": "eu-west-1", "records": records}
    return event, line_bytes


NAIVE = re.compile(r'^(\S+) (\S+) (\S+) \[([^\]]+)\] "(.*?)" (\d{3}) (\S+)(?: "(.*?)" "(.*?)")?')
NAIVE_FIELDS = ("host", "ident", "authuser", "datetime", "request", "response", "bytes",
                "referrer", "agent")


def naive_blueprint(event: dict) -> dict:
    output = []
    for record in event["records"]:
        try:
            match = NAIVE.match(base64.b64decode(record["data"]).decode("utf-8"))
        except ValueError:
            match = None
        if match is None:
            output.append({"recordId": record["recordId"], "result": "ProcessingFailed",
                           "data": record["data"]})
            continue
        payload = json.dumps(dict(zip(NAIVE_FIELDS, match.groups()))) + "\n"
        output.append({"recordId": record["recordId"], "result": "Ok",
                       "data": base64.b64encode(payload.encode()).decode()})
    return {"records": output}


def pure_core(event: dict) -> dict:
    results = [batch.transform_record(record) for record in event["records"]]
    return {"records": batch.plan_response(results).records}


class AcceptingFirehose:
    """Stands in for the real client if the handler re-ingests: no AWS call from a benchmark."""

    def put_record_batch(self, DeliveryStreamName, Records):  # noqa: N803
        return {"FailedPutCount": 0, "RequestResponses": [{"RecordId": "x"} for _ in Records]}


class BenchContext:
    function_name = "log-transform-bench"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:log-transform-bench"
    aws_request_id = "00000000-0000-4000-8000-000000000001"


def handler(event: dict) -> dict:
    return log_transform.handler(event, BenchContext())


def best_times(cases: dict, event: dict) -> dict[str, tuple[float, dict]]:
    """Best time and last response per case; rounds interleave the cases, so a slow
    moment of the machine does not land on one case only."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    responses = {}
    for _ in range(ROUNDS):
        for name, transform in cases.items():
            parse.utc_timestamp.cache_clear()  # every round starts cold, like a new batch
            start = time.perf_counter()
            responses[name] = transform(event)
            times[name].append(time.perf_counter() - start)
    return {name: (min(times[name]), responses[name]) for name in cases}


def main() -> None:
    log_transform.firehose_client = lambda region: AcceptingFirehose()
    event, line_bytes = firehose_event(random.Random(SEED), EVENT_BYTES)
    records = len(event["records"])
    print(f"event: {records} records, {len(json.dumps(event)) / 1e6:.2f} MB JSON, "
          f"{line_bytes / 1e6:.2f} MB of log lines; best of {ROUNDS} rounds")

    cases = {"naive blueprint (baseline)": naive_blueprint, "pure core": pure_core,
             "handler (Powertools)": handler}
    timings = best_times(cases, event)
    baseline = timings["naive blueprint (baseline)"][0]

    print(f"{'case':<28} {'best ms':>8} {'records/s':>11} {'MB/s':>7} {'x baseline':>11} "
          f"{'Ok':>6} {'Failed':>6} {'Dropped':>7} {'response MB':>12} {'fits 6 MiB':>11}")
    for name, (seconds, response) in timings.items():
        results = [entry["result"] for entry in response["records"]]
        response_bytes = len(json.dumps(response))
        print(f"{name:<28} {seconds * 1000:>8.1f} {records / seconds:>11,.0f} "
              f"{line_bytes / seconds / 1e6:>7.1f} {baseline / seconds:>11.2f} "
              f"{results.count('Ok'):>6} {results.count('ProcessingFailed'):>6} "
              f"{results.count('Dropped'):>7} {response_bytes / 1e6:>12.2f} "
              f"{'yes' if response_bytes <= LAMBDA_RESPONSE_LIMIT else 'NO':>11}")
    print("MB/s = megabytes (10^6) of raw log lines per second; x baseline > 1 is faster.")
    print("pure core: records that do not fit are ProcessingFailed in its plan; the handler "
          "re-ingests them (into a stand-in client here) and returns them Dropped.")


if __name__ == "__main__":
    main()
