"""Throughput of the Firehose log-transform Lambda against the AWS blueprint's approach.

Run from the repository root: `python benchmarks/log_transform.py [--rounds N]`. Prints
figures; asserts nothing. One seeded Firehose event of 10,000 records (combined and
common lines, IPv6 clients, a few escaped quotes, `-` requests and malformed records),
with timestamps from three servers' time zones spread over three hours, so most are
distinct (the worst case for a timestamp cache), is transformed by:

  blueprint style  the approach of AWS's Apache-log blueprint, per line: base64-decode,
                   re.match, datetime.strptime and a UTC conversion, json.dumps,
                   base64-encode; no response-size accounting (the baseline)
  naive            the same without the timestamp conversion (regex + json.dumps only)
  full parser      transform_record for every record + plan_response: the code path the
                   handler used before the fast path, and its reference in the tests
  pure core        transform_batch: the fast path, the full parser for the rest, bulk sizes
  handler          the Lambda handler itself, with Powertools logging and metrics

Times are this process's CPU time (time.process_time): the transform is single-threaded
and CPU-bound, so on an idle core that is its wall time, and other work on a shared
machine stays out of the figures. Rounds interleave the cases (their order rotates),
every run starts with cold timestamp caches like a new batch and with the garbage of the
run before collected, and the ratios printed are medians over the rounds of
(baseline time / case time) measured in the same round.

A second table splits the handler's per-record cost into stages, each a median over
interleaved rounds: the fast path's stages as cumulative partial loops (a stage is the
difference from the loop before it, in the same round), the bulk size, the full parser on
the lines the fast path defers (a loop with it minus the same loop without it), and the
handler around a transform_batch that returns at once. Unattributed is what is left of
the pure core's median: the loop's branches, and measurement noise.

Needs the standard library and the Lambda code, plus Powertools and boto3 for the handler
(which the Lambda runtime provides).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import gc
import json
import os
import random
import re
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

# Powertools writes a log line and an EMF blob per invocation; keep the table readable.
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.lambda_loader import load  # noqa: E402

parse = load("log_transform", "log_transform_parse")
fast = load("log_transform", "log_transform_fast")
batch = load("log_transform", "log_transform_batch")
partition = load("log_transform", "log_transform_partition")
log_transform = load("log_transform", "log_transform")

ROUNDS = 11
RECORDS = 10_000
LAMBDA_RESPONSE_LIMIT = 6 * 1024 * 1024
SEED = 20240601

# (weight, user agent): what a public site sees, a few with escaped quotes (Apache's \")
AGENTS = [
    (40, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/124.0.0.0 Safari/537.36"),
    (25, "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
         "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"),
    (15, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
         "Gecko) Version/17.4.1 Safari/605.1.15"),
    (8, "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
    (5, "curl/8.6.0"),
    (4, "-"),
    (2, "python-requests/2.31.0"),
    (1, r"Mozilla/5.0 (compatible; \"Quoted\" Crawler/1.0)"),
]
REFERRERS = [(50, "-"), (30, "https://www.example.com/"),
             (19, "https://www.google.com/search?q=shoes"),
             (1, r"https://example.org/?q=\"red shoes\"")]
PATHS = ["/", "/index.html", "/products/{n}", "/api/v1/orders?id={n}&page={p}",
         "/static/js/app.{n:x}.js", "/search?q=item{n}&sort=price", "/images/{n}.png"]
STATUSES = [200] * 70 + [304] * 10 + [404] * 8 + [301] * 5 + [500] * 3 + [400] * 2 + [408] * 2
SERVER_ZONES = ["-0700", "+0000", "+0530"]
SPAN_SECONDS = 3 * 3600  # three hours of each server's lines: most timestamps distinct


def weighted(rng: random.Random, choices: list[tuple[int, str]]) -> str:
    return rng.choices([value for _, value in choices], [weight for weight, _ in choices])[0]


def access_line(rng: random.Random) -> bytes:
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
    minutes, second = divmod(rng.randrange(SPAN_SECONDS), 60)
    time_text = (f"01/Jun/2024:{9 + minutes // 60:02d}:{minutes % 60:02d}:{second:02d} "
                 f"{rng.choice(SERVER_ZONES)}")
    line = f'{client} - {user} [{time_text}] "{request}" {status} {size}'
    if rng.random() < 0.9:  # combined; the rest common
        line += f' "{weighted(rng, REFERRERS)}" "{weighted(rng, AGENTS)}"'
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


def firehose_event(rng: random.Random, count: int) -> tuple[dict, list[bytes]]:
    lines = [malformed_line(rng) if rng.random() < 0.01 else access_line(rng)
             for _ in range(count)]
    records = [{"recordId": f"{index:056d}", "approximateArrivalTimestamp": 1717200000000 + index,
                "data": base64.b64encode(line).decode()} for index, line in enumerate(lines)]
    event = {"invocationId": "00000000-0000-4000-8000-000000000000",
             "deliveryStreamArn": "arn:aws:firehose:eu-west-1:123456789012:deliverystream/bench",
             "region": "eu-west-1", "records": records}
    return event, lines


# The blueprint's way, written in its style: a regex per line, strptime, json.dumps.
BLUEPRINT_LINE = (r'^(\S+) (\S+) (\S+) \[([\w:/]+\s[+\-]\d{4})\] "(.*?)" (\d{3}) (\S+)'
                  r'(?: "(.*?)" "(.*?)")?')


def blueprint_style(event: dict) -> dict:
    output = []
    for record in event["records"]:
        try:
            match = re.match(BLUEPRINT_LINE, base64.b64decode(record["data"]).decode("utf-8"))
            logged = match and datetime.strptime(match.group(4), "%d/%b/%Y:%H:%M:%S %z")
        except ValueError:
            match = None
        if not match:
            output.append({"recordId": record["recordId"], "result": "ProcessingFailed",
                           "data": record["data"]})
            continue
        data_field = {
            "host": match.group(1), "ident": match.group(2), "authuser": match.group(3),
            "timestamp": logged.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
            "request": match.group(5), "response": int(match.group(6)),
            "bytes": int(match.group(7)) if match.group(7).isdigit() else None,
            "referrer": match.group(8), "useragent": match.group(9),
        }
        payload = json.dumps(data_field) + "\n"
        output.append({"recordId": record["recordId"], "result": "Ok",
                       "data": base64.b64encode(payload.encode("utf-8")).decode("utf-8")})
    return {"records": output}


NAIVE = re.compile(r'^(\S+) (\S+) (\S+) \[([^\]]+)\] "(.*?)" (\d{3}) (\S+)(?: "(.*?)" "(.*?)")?')
NAIVE_FIELDS = ("host", "ident", "authuser", "datetime", "request", "response", "bytes",
                "referrer", "agent")


def naive(event: dict) -> dict:
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


def full_parser(event: dict) -> dict:
    results = [batch.transform_record(record) for record in event["records"]]
    return {"records": batch.plan_response(results).records}


def pure_core(event: dict) -> dict:
    return {"records": batch.transform_batch(event["records"]).records}


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


BASELINE = "blueprint style (baseline)"
CASES = {BASELINE: blueprint_style, "naive (no time conversion)": naive,
         "full parser (before)": full_parser, "pure core": pure_core,
         "handler (Powertools)": handler}


def cold_run(transform, event: dict) -> tuple[float, dict]:
    fast.clear_timestamp_caches()  # every run starts cold, like a new batch
    gc.collect()  # no run pays for the garbage of the one before it
    start = time.process_time()
    response = transform(event)
    return time.process_time() - start, response


def interleaved_times(cases: dict, event: dict, rounds: int) -> tuple[dict, dict]:
    """Times per case, round by round; the order rotates so no case always runs first."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    responses = {}
    names = list(cases)
    for round_number in range(rounds):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            seconds, responses[name] = cold_run(cases[name], event)
            times[name].append(seconds)
    return times, responses


# Stages of the pure core, as cumulative partial loops over the same records. Each loop
# does what the one before it does plus one stage; lines the fast path defers are skipped.
def stage_loop(stages: int):
    a2b, b2a, match_line = binascii.a2b_base64, binascii.b2a_base64, fast._match
    minutes, convert, template = fast._utc_minutes, fast.utc_minute, fast._TEMPLATE

    def loop(records: list[dict]) -> list:
        entries = []
        partitioner = partition.Partitioner()
        days: dict = {}
        for record in records:
            record_id, original = record["recordId"], record["data"]
            if stages < 1:
                continue
            line = a2b(original, strict_mode=True)
            if stages < 2:
                continue
            match = match_line(line)
            if match is None:
                continue
            (client_ip, ident, user, minute, second, offset, method, path, query, protocol,
             status, size, referrer, user_agent) = match.groups()
            if stages < 3:
                continue
            utc = minutes.get((minute, offset)) or convert(minute, offset)
            if stages < 4:
                continue
            encoded = template % (
                client_ip, b"null" if ident == b"-" else b'"' + ident + b'"',
                b"null" if user == b"-" else b'"' + user + b'"', utc, second, method, path,
                b"null" if query is None else b'"' + query + b'"', protocol, status,
                b"null" if size == b"-" else size,
                b"null" if referrer is None or referrer == b'"-"' else referrer,
                b"null" if user_agent is None or user_agent == b'"-"' else user_agent)
            if stages < 5:
                continue
            output = b2a(encoded, newline=False).decode("ascii")
            if stages < 6:
                continue
            arrival = record.get("approximateArrivalTimestamp")
            by_day = (utc[:10], arrival // 86_400_000)
            metadata = days.get(by_day)
            if metadata is None:
                metadata = days[by_day] = partitioner.metadata(partitioner.key(utc[:10].decode(), arrival))
            if stages < 7:
                continue
            entries.append({"recordId": record_id, "result": "Ok", "data": output, "metadata": metadata})
        return entries

    return loop


STAGES = ["loop over records, read recordId and data", "base64 decode",
          "line pattern (fullmatch + groups)", "UTC minute (cache; misses included)",
          "JSON render (bytes template)", "base64 encode", "partition key (cached per day)",
          "response entry (dict + append)"]


def bulk_sizes(records: list[dict]) -> int:
    return len(batch._quoted("".join([record["recordId"] for record in records])))


def deferred_lines(full_parser: bool):
    """A loop that tries the fast path on every record and, if `full_parser`, gives the lines
    it defers to the full parser: the difference of the two is the full parser's work."""

    def loop(records: list[dict]) -> int:
        parsed = 0
        for record in records:
            try:
                line = binascii.a2b_base64(record["data"], strict_mode=True)
            except binascii.Error:
                continue
            if fast.fast_json_line(line) is None and full_parser:
                try:
                    encoded = parse.json_line(parse.parse_log_line(line))
                except parse.InvalidLogLine:
                    continue
                binascii.b2a_base64(encoded, newline=False)
                parsed += 1
        return parsed

    return loop


def adapter_only(event: dict):
    """The handler around a transform_batch that returns at once: what the adapter costs."""
    outcome = batch.transform_batch(event["records"])

    def run(event: dict) -> dict:
        log_transform.transform_batch = lambda records, budget, partitioner=None: outcome
        try:
            return handler(event)
        finally:
            log_transform.transform_batch = batch.transform_batch

    return run


def stage_costs(event: dict, rounds: int, core: float) -> list[tuple]:
    """Seconds per batch of each stage: medians over interleaved rounds of the differences."""
    records = event["records"]
    fast_path_lines = [record for record, line in zip(records, event_lines(event))
                       if line is not None and fast.fast_json_line(line) is not None]
    loops = [(stage_loop(stages), fast_path_lines) for stages in range(len(STAGES))] + [
        (bulk_sizes, records), (deferred_lines(True), records), (deferred_lines(False), records)]
    samples: list[list[float]] = [[] for _ in loops]
    for _ in range(3 * rounds):  # short runs: more of them for a steadier median
        for index, (loop, argument) in enumerate(loops):
            samples[index].append(cold_run(loop, argument)[0])
    cumulative = samples[:len(STAGES)]
    bulk, with_full, without = samples[len(STAGES):]
    rows = [(STAGES[0], statistics.median(cumulative[0]))]
    rows += [(name, statistics.median(now - before for before, now in zip(previous, current)))
             for name, previous, current in zip(STAGES[1:], cumulative, cumulative[1:])]
    rows.append(("bulk response size (join + escape ids)", statistics.median(bulk)))
    rows.append(("full parser for the deferred lines", statistics.median(
        full - fast_only for full, fast_only in zip(with_full, without))))
    rows.append(("unattributed (pure core minus the above)", core - sum(s for _, s in rows)))
    rows.append(("handler adapter (Powertools, metrics, log)", statistics.median(
        cold_run(adapter_only(event), event)[0] for _ in range(rounds))))
    return rows


def event_lines(event: dict) -> list[bytes | None]:
    lines = []
    for record in event["records"]:
        try:
            lines.append(binascii.a2b_base64(record["data"], strict_mode=True))
        except binascii.Error:
            lines.append(None)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    rounds = parser.parse_args().rounds
    log_transform.firehose_client = lambda region: AcceptingFirehose()
    event, lines = firehose_event(random.Random(SEED), RECORDS)
    records = len(event["records"])
    line_bytes = sum(map(len, lines))
    stamps = [line.split(b"[", 1)[1].split(b"]", 1)[0] for line in lines if b"[" in line]
    fast_share = sum(fast.fast_json_line(line) is not None for line in lines) / records
    print(f"Python {sys.version.split()[0]}; event: {records} records, "
          f"{len(json.dumps(event)) / 1e6:.2f} MB JSON, {line_bytes / 1e6:.2f} MB of log lines; "
          f"{len(set(stamps)) / len(stamps):.0%} of timestamps distinct, "
          f"{len({(s[:17], s[-5:]) for s in stamps})} (minute, offset) pairs; "
          f"{fast_share:.1%} of lines on the fast path; {rounds} rounds")

    times, responses = interleaved_times(CASES, event, rounds)
    expected = json.dumps(responses["full parser (before)"])
    print(f"\n{'case':<28} {'median ms':>9} {'us/record':>9} {'records/s':>11} "
          f"{'x baseline':>10} {'Ok':>6} {'Failed':>6} {'Dropped':>7} {'response MB':>11} "
          f"{'fits':>4} {'same bytes':>10}")
    for name, samples in times.items():
        response = responses[name]
        median = statistics.median(samples)
        ratio = statistics.median(base / own for base, own in zip(times[BASELINE], samples))
        results = [entry["result"] for entry in response["records"]]
        encoded = json.dumps(response)
        same = "-" if name in (BASELINE, "naive (no time conversion)") else (
            "yes" if encoded == expected else "NO")
        print(f"{name:<28} {median * 1000:>9.1f} {median / records * 1e6:>9.2f} "
              f"{records / median:>11,.0f} {ratio:>10.2f} {results.count('Ok'):>6} "
              f"{results.count('ProcessingFailed'):>6} {results.count('Dropped'):>7} "
              f"{len(encoded) / 1e6:>11.2f} "
              f"{'yes' if len(encoded) <= LAMBDA_RESPONSE_LIMIT else 'NO':>4} {same:>10}")
    print("x baseline: median over rounds of baseline time / case time (> 1 is faster); "
          "same bytes: json.dumps of the response equals the full parser's.")

    core = statistics.median(times["pure core"])
    handler_time = statistics.median(times["handler (Powertools)"])
    print(f"\n{'handler, per record of the batch, by stage':<46} {'us':>6} {'share':>6}")
    for name, seconds in stage_costs(event, rounds, core):
        print(f"{name:<46} {seconds / records * 1e6:>6.3f} {seconds / handler_time:>6.1%}")
    print(f"{'handler, in all (median above)':<46} {handler_time / records * 1e6:>6.3f} "
          f"{1:>6.0%}")
    print("Every figure is divided by all the batch's records; the first eight stages run "
          "over the lines the fast path takes.")


if __name__ == "__main__":
    main()
