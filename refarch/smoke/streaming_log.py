"""StreamingLogAnalytics smoke: a seeded batch posted to the collection API as a website would,
and one malformed batch; then what each step of the data path shows.

  API -> events stream     both targets: the batch's events on the stream, found by run id
  malformed batch -> 400   both, where the target's API Gateway applies the request model; the 400's
                           body names the validator's reason on AWS (LocalStack answers its default body)
  Flink job                AWS: the events on the clean stream (de-duplicated, flagged) and a
                           record put straight on the stream (a server-side producer's, not JSON)
                           in the dead letters with its reason
  lake                     AWS: Parquet objects under clickstream_events/dt=<today>/ after Firehose's buffer
  search index             AWS: Firehose's delivery metric to the domain (the domain is VPC-only, so
                           it cannot be queried from outside) and nothing under search-failed/
  warehouse                AWS: the run's events in clickstream.events through the Data API
LocalStack's free edition runs no Flink job, so nothing reaches the clean stream there; the steps
after the job are reported as not runnable, with that reason (their proof is the local run).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from refarch.smoke.report import SmokeReport
from refarch.smoke.target import Progress, Target, poll

NO_FLINK = "LocalStack's free edition accepts Managed Service for Apache Flink only as a no-op, so no job reads the events"
NO_REASON = ("LocalStack's API Gateway answers with its default body ({body}), not the stage's BAD_REQUEST_BODY "
             "gateway response, which adds the validator's reason; the template tests prove that response")
NO_MODEL = ("LocalStack's API Gateway did not apply the request model (it answered {status}); the model is "
            "proven by the template tests and by the local run's JSON-schema validation")


def sample(run_id: str, now: datetime, count: int = 6) -> list[dict]:
    return [{"event_id": f"smoke-{run_id}-{n}", "visitor_id": f"smoke-{run_id}", "page": f"/smoke/{n}",
             "status": 503 if n == 0 else 200, "user_agent": "refarch-smoke (Mozilla/5.0)",
             "event_time": (now - timedelta(seconds=count - n)).strftime("%Y-%m-%dT%H:%M:%S.000Z")}
            for n in range(count)]


def post(url: str, body: Any, origin: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "Origin": origin})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:   # noqa: S310 (our own API's URL)
            return response.status, _json(response.read())
    except urllib.error.HTTPError as error:
        return error.code, _json(error.read())


def _json(raw: bytes) -> dict:
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        return {"message": raw.decode(errors="replace")[:200]}
    return value if isinstance(value, dict) else {"value": value}


def collect_url(target: Target, outputs: dict) -> str:
    if target.is_localstack:
        endpoint = target.client("apigateway").meta.endpoint_url.rstrip("/")
        return f"{endpoint}/restapis/{outputs['CollectApiId']}/{outputs['CollectStage']}/_user_request_/events"
    return outputs["CollectUrl"]


def smoke_streaming_log(target: Target, stack_name: str, *, timeout: float, progress: Progress) -> SmokeReport:
    report = SmokeReport("StreamingLogAnalytics", target.name)
    outputs = target.outputs(stack_name)
    kinesis = target.client("kinesis")
    run_id, started = uuid.uuid4().hex[:8], datetime.now(timezone.utc)
    events = sample(run_id, started)
    url, origin = collect_url(target, outputs), outputs["AllowedOrigin"]

    status, body = post(url, {"events": events}, origin)
    report.expect("batch posted to the collection API", status == 200 and body.get("failed") == 0,
                  f"200: {body.get('accepted')} accepted, none to retry", f"{status}: {body}")
    ours = lambda records: [r for r in records if f"smoke-{run_id}-" in r]   # noqa: E731
    found = poll(lambda: ours(records_since(kinesis, outputs["EventsStreamName"], started)), timeout=timeout,
                 interval=2, progress=progress, what="events on the stream")
    report.expect("events on the events stream", len(found or []) >= len(events),
                  f"{len(found)} of {len(events)} events, each its own record",
                  f"{len(found or [])} of {len(events)} events after {timeout:.0f} s")

    status, body = post(url, {"events": [{**events[0], "status": 700}]}, origin)
    if status == 400:
        report.arrived("malformed batch refused at the edge", f"400: {body.get('message')}")
        if "700" in json.dumps(body):
            report.arrived("the 400 names the reason", str(body.get("reason")))
        elif target.is_localstack:
            report.not_runnable("the 400 names the reason", NO_REASON.format(body=body))
        else:
            report.missing("the 400 names the reason", f"400 without the validator's reason: {body}")
    elif target.is_localstack:
        report.not_runnable("malformed batch refused at the edge", NO_MODEL.format(status=status))
    else:
        report.missing("malformed batch refused at the edge", f"{status}: {body}")

    if target.is_localstack:
        for step in ("job: clean events", "job: dead letter with its reason", "lake: Parquet by event date",
                     "search index: documents delivered", "warehouse: rows in the streaming view"):
            report.not_runnable(step, NO_FLINK)
        return report
    _after_the_job(target, outputs, kinesis, run_id, started, timeout, progress, report)
    return report


def _after_the_job(target: Target, outputs: dict, kinesis: Any, run_id: str, started: datetime, timeout: float,
                   progress: Progress, report: SmokeReport) -> None:
    kinesis.put_record(StreamName=outputs["EventsStreamName"], PartitionKey=run_id,
                       Data=f"smoke-{run_id} not json".encode())
    clean = poll(lambda: [r for r in records_since(kinesis, outputs["CleanStreamName"], started) if f"smoke-{run_id}-" in r],
                 timeout=timeout, interval=10, progress=progress, what="clean events")
    report.expect("job: clean events", len(clean or []) == 6, f"{len(clean)} clean events, flagged",
                  f"{len(clean or [])} of 6 after {timeout:.0f} s")
    dead = poll(lambda: [r for r in records_since(kinesis, outputs["DeadLettersStreamName"], started)
                         if f"smoke-{run_id} not json" in r], timeout=timeout, interval=10, progress=progress,
                what="the dead letter")
    report.expect("job: dead letter with its reason", bool(dead) and '"invalid_json"' in dead[0],
                  "the non-JSON record, reason invalid_json", f"no dead letter after {timeout:.0f} s")
    s3 = target.client("s3")
    prefix = f"clickstream_events/dt={started:%Y-%m-%d}/"
    objects = poll(lambda: [o for o in s3.list_objects_v2(Bucket=outputs["LakeBucketName"], Prefix=prefix).get(
        "Contents", []) if o["LastModified"] >= started], timeout=timeout, interval=15, progress=progress,
        what="Parquet in the lake")
    report.expect("lake: Parquet by event date", bool(objects), f"{len(objects or [])} object(s) under {prefix}",
                  f"nothing new under {prefix} after {timeout:.0f} s")
    delivered = poll(lambda: _search_records(target, outputs, started), timeout=timeout, interval=30,
                     progress=progress, what="search delivery")
    failed = s3.list_objects_v2(Bucket=outputs["LakeBucketName"], Prefix="search-failed/").get("Contents", [])
    failed = [o for o in failed if o["LastModified"] >= started]
    report.expect("search index: documents delivered", bool(delivered) and not failed,
                  f"Firehose delivered {delivered:.0f} document(s) to the domain, none failed",
                  f"delivered {delivered or 0:.0f}, {len(failed)} failed object(s) under search-failed/")
    rows = poll(lambda: _warehouse_rows(target, outputs, run_id), timeout=timeout, interval=15, progress=progress,
                what="rows in the streaming view")
    report.expect("warehouse: rows in the streaming view", rows == 6, f"{rows} rows in clickstream.events",
                  f"{rows or 0} of 6 rows after {timeout:.0f} s")


def records_since(kinesis: Any, stream: str, since: datetime) -> list[str]:
    records = []
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard["ShardId"],
                                              ShardIteratorType="AT_TIMESTAMP", Timestamp=since)["ShardIterator"]
        for _ in range(5):
            page = kinesis.get_records(ShardIterator=iterator, Limit=1000)
            records += [r["Data"].decode(errors="replace") for r in page["Records"]]
            iterator = page.get("NextShardIterator")
            if not iterator or not page["Records"]:
                break
    return records


def _search_records(target: Target, outputs: dict, since: datetime) -> float:
    stats = target.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/Firehose", MetricName="DeliveryToAmazonOpenSearchService.Records",
        Dimensions=[{"Name": "DeliveryStreamName", "Value": outputs["SearchDeliveryStreamName"]}],
        StartTime=since - timedelta(minutes=1), EndTime=datetime.now(timezone.utc) + timedelta(minutes=1),
        Period=60, Statistics=["Sum"])
    return sum(point["Sum"] for point in stats["Datapoints"])


def _warehouse_rows(target: Target, outputs: dict, run_id: str) -> int:
    data = target.client("redshift-data")
    statement = data.execute_statement(
        ClusterIdentifier=outputs["WarehouseClusterIdentifier"], Database=outputs["WarehouseDatabase"],
        DbUser=outputs["WarehouseUser"],
        Sql=f"SELECT COUNT(*) FROM clickstream.events WHERE event_id LIKE 'smoke-{run_id}-%'")
    for _ in range(30):
        description = data.describe_statement(Id=statement["Id"])
        if description["Status"] in ("FINISHED", "FAILED", "ABORTED"):
            break
        time.sleep(2)
    if description["Status"] != "FINISHED":
        return 0
    return int(data.get_statement_result(Id=statement["Id"])["Records"][0][0]["longValue"])
