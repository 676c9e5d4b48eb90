"""FirehoseParquet smoke: the deployed transform answers a Firehose batch, and access-log lines
put into the delivery stream arrive in S3 as Parquet.

On LocalStack the second step is tried, not assumed: LocalStack's Firehose sends its processor
records without the `recordId` real Firehose always sends (and writes whatever comes back), so
a transform that answers every recordId, as Firehose's contract requires, cannot run behind it.
If nothing arrives, the step is reported as one this target cannot run, with that reason and
what was observed; if LocalStack ever delivers, the step is checked like on AWS.
"""

from __future__ import annotations

import base64
import json
import time
from collections import Counter

from refarch.local.generators.access_log import generate_access_log
from refarch.smoke.report import SmokeReport
from refarch.smoke.target import Progress, Target, poll

LOCALSTACK_FIREHOSE_REASON = (
    "LocalStack's Firehose invokes the processor with records that carry no recordId (real "
    "Firehose always sends one) and ignores each record's result; the transform answers every "
    "recordId, as Firehose's contract requires, so it cannot run behind LocalStack's Firehose")
LOCALSTACK_WAIT_SECONDS = 15.0


def is_parquet(body: bytes) -> bool:
    """A Parquet file starts and ends with the magic bytes PAR1."""
    return len(body) > 8 and body[:4] == b"PAR1" and body[-4:] == b"PAR1"


def firehose_event(lines: list[bytes]) -> dict:
    """A Firehose processor event as real Firehose sends it."""
    now = int(time.time() * 1000)
    return {"invocationId": "refarch-smoke", "region": "us-east-1",
            "deliveryStreamArn": "arn:aws:firehose:us-east-1:000000000000:deliverystream/smoke",
            "records": [{"recordId": f"{n:056d}", "approximateArrivalTimestamp": now,
                         "data": base64.b64encode(line).decode()} for n, line in enumerate(lines)]}


def smoke_firehose(target: Target, stack_name: str, *, timeout: float, progress: Progress) -> SmokeReport:
    report = SmokeReport("FirehoseParquet", target.name)
    outputs = target.outputs(stack_name)
    sample = generate_access_log(40, seed=5, malformed_rate=0.1)
    lines = [line.data for line in sample]
    malformed = sum(line.malformed for line in sample)

    response = target.client("lambda").invoke(FunctionName=outputs["TransformFunctionName"],
                                              Payload=json.dumps(firehose_event(lines)).encode())
    body = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        report.missing("transform answers a Firehose batch", f"the function failed: {str(body)[:300]}")
    else:
        results = Counter(r["result"] for r in body["records"])
        answered = {r["recordId"] for r in body["records"]} == {f"{n:056d}" for n in range(len(lines))}
        report.expect("transform answers a Firehose batch",
                      answered and results["ProcessingFailed"] == malformed,
                      f"every recordId answered: {results['Ok']} Ok, {results['ProcessingFailed']} "
                      f"ProcessingFailed (the {malformed} malformed lines)",
                      f"answers {dict(results)} for {len(lines)} records ({malformed} malformed)")

    started = time.time()
    put = target.client("firehose").put_record_batch(
        DeliveryStreamName=outputs["DeliveryStreamName"], Records=[{"Data": line + b"\n"} for line in lines])
    s3 = target.client("s3")

    new_objects: dict[str, bytes] = {}

    def delivered() -> list[str]:
        listed = s3.list_objects_v2(Bucket=outputs["BucketName"], Prefix=outputs["TablePrefix"])
        for entry in listed.get("Contents", []):
            if entry["LastModified"].timestamp() >= started - 5 and entry["Key"] not in new_objects:
                new_objects[entry["Key"]] = s3.get_object(Bucket=outputs["BucketName"], Key=entry["Key"])["Body"].read()
        return [key for key, body in new_objects.items() if is_parquet(body)]

    wait = min(timeout, LOCALSTACK_WAIT_SECONDS) if target.is_localstack else timeout
    parquet = poll(delivered, timeout=wait, interval=2, progress=progress, what="Parquet objects in S3")
    step = "lines delivered to S3 as Parquet"
    other = sorted(set(new_objects) - set(parquet or []))
    seen = "; ".join(f"{key!r} ({len(new_objects[key])} bytes, not Parquet)" for key in other[:3]) or "none"
    if parquet:
        report.arrived(step, f"{len(parquet)} Parquet object(s) under s3://{outputs['BucketName']}/"
                             f"{outputs['TablePrefix']}")
    elif target.is_localstack:
        report.not_runnable(step, f"{LOCALSTACK_FIREHOSE_REASON} (observed after {wait:.0f} s: PutRecordBatch "
                                  f"reported {put.get('FailedPutCount', 0)} of {len(lines)} failed; "
                                  f"other objects written: {seen})")
    else:
        report.missing(step, f"no object under {outputs['TablePrefix']} after {timeout:.0f} s (Firehose "
                             "buffers up to its interval; rerun with a longer --timeout)")
    return report
