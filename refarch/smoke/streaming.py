"""StreamingSqlAnalytics smoke: events onto the source stream; on AWS, the Flink SQL job's windows
arrive on the sink streams (the ad-tech job moved to the AdTech stack: refarch/smoke/adtech.py).

LocalStack's free edition accepts Managed Service for Apache Flink applications only as no-ops,
so there the sink steps are reported as not runnable; the SQL keeps its proof on local PyFlink
(`make demo`, the tests), window by window against an event-time model.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from refarch.local.flink_sql import generate_clickstream
from refarch.smoke.report import SmokeReport
from refarch.smoke.target import Progress, Target, poll

NO_FLINK = "Managed Service for Apache Flink is accepted by LocalStack's free edition only as a no-op"
# source output -> (sample, sink outputs the job writes windows to)
JOBS = {
    "ClickEventsStreamName": (lambda: generate_clickstream(60, 21), (
        "ClickstreamPageviewsStreamName", "ClickstreamErrorrateStreamName", "ClickstreamSessionsStreamName")),
}


def smoke_streaming(target: Target, stack_name: str, *, timeout: float, progress: Progress) -> SmokeReport:
    report = SmokeReport("StreamingSqlAnalytics", target.name)
    outputs = target.outputs(stack_name)
    kinesis = target.client("kinesis")
    started = datetime.now(timezone.utc)
    for source, (generate, sinks) in JOBS.items():
        events = generate()
        response = kinesis.put_records(StreamName=outputs[source], Records=[
            {"PartitionKey": str(e["visitor_id"]), "Data": json.dumps(e).encode()}
            for e in events])
        report.expect(f"events on {outputs[source]}", response["FailedRecordCount"] == 0,
                      f"{len(events)} events put", f"{response['FailedRecordCount']} of {len(events)} rejected")
        for sink in sinks:
            step = f"windows on {outputs[sink]}"
            if target.is_localstack:
                report.not_runnable(step, NO_FLINK)
                continue
            found = poll(lambda s=outputs[sink]: _records_since(kinesis, s, started), timeout=timeout,
                         interval=10, progress=progress, what=step)
            report.expect(step, bool(found), f"{len(found or [])} window record(s) written by the job",
                          f"no window record after {timeout:.0f} s")
    return report


def _records_since(kinesis, stream: str, since: datetime) -> list[bytes]:
    records = []
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard["ShardId"],
                                              ShardIteratorType="AT_TIMESTAMP", Timestamp=since)["ShardIterator"]
        for _ in range(5):  # a few pages per shard and poll
            page = kinesis.get_records(ShardIterator=iterator, Limit=1000)
            records += [r["Data"] for r in page["Records"]]
            iterator = page.get("NextShardIterator")
            if not iterator or not page["Records"]:
                break
    return records
