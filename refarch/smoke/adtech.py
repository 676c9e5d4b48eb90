"""AdTech smoke: ad events in; a CTR window through the deployed updater into the placements
table; the placement API (through API Gateway) answering from that ranking, with the fallback
for an unknown placement and a 400 for a malformed request.

On AWS the Flink job turns the sample events into windows itself, and the check waits for the
ranking it leads to. LocalStack's free edition accepts Managed Service for Apache Flink only as a
no-op, so there the Flink step is reported as not runnable, and the check puts a window shaped
like the job's output on the CTR stream, so the real updater runs through its event source
mapping all the same. Every placement id carries the run id; the check deletes its own items.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from refarch.smoke.report import SmokeReport
from refarch.smoke.target import Progress, Target, poll

NO_FLINK = "Managed Service for Apache Flink is accepted by LocalStack's free edition only as a no-op"
GOOD, WEAK = "ad-good", "ad-weak"


@dataclass(frozen=True)
class Api:
    base: str                 # up to and including the stage
    headers: dict[str, str]
    target: Target

    def get(self, path: str, query: dict[str, str] | None = None) -> tuple[int, dict]:
        url = f"{self.base}/{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
        headers = dict(self.headers)
        if not self.target.is_localstack:
            headers |= _sigv4(self.target, url)
        request = urllib.request.Request(url, headers=headers, method="GET")
        try:
            with urllib.request.urlopen(request, timeout=15) as response:   # noqa: S310 (our own API's URL)
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            body = error.read()
            try:
                return error.code, json.loads(body or b"{}")
            except ValueError:
                return error.code, {"message": body.decode(errors="replace")[:200]}


def smoke_adtech(target: Target, stack_name: str, *, timeout: float, progress: Progress) -> SmokeReport:
    report = SmokeReport("AdTech", target.name)
    outputs = target.outputs(stack_name)
    run_id = uuid.uuid4().hex[:8]
    dynamodb, table = target.client("dynamodb"), outputs["PlacementsTableName"]
    placements = [f"smoke-{run_id}", f"smoke-{run_id}-flink"]
    try:
        _send_events(target, outputs, placements[1], report)
        if target.is_localstack:
            report.not_runnable("CTR windows from the Flink job", NO_FLINK)
        else:
            found = poll(lambda: _item(dynamodb, table, placements[1]), timeout=timeout, interval=15,
                         progress=progress, what="a ranking from the Flink job's windows")
            report.expect("CTR windows from the Flink job", bool(found),
                          f"the job's windows ranked {', '.join(_ranking(found or {}))} for {placements[1]}",
                          f"no ranking for {placements[1]} after {timeout:.0f} s")
        window_end = _put_window(target, outputs, placements[0], report)
        item = poll(lambda: _ranked_window(dynamodb, table, placements[0], window_end), timeout=timeout, interval=1,
                    progress=progress, what="the updater's ranking")
        report.expect("ranking written by the updater", bool(item),
                      f"{placements[0]} ranked {' > '.join(_ranking(item or {}))} for the window ending "
                      f"{window_end:%H:%M}", f"no ranking for {placements[0]} after {timeout:.0f} s")
        _check_api(target, outputs, placements[0], report)
    finally:
        for placement in placements:
            dynamodb.delete_item(TableName=table, Key={"placement_id": {"S": placement}})
    return report


def _send_events(target: Target, outputs: dict, placement: str, report: SmokeReport) -> None:
    now = datetime.now(timezone.utc)
    events = []
    for n in range(40):
        ad = GOOD if n % 2 else WEAK
        moment = now - timedelta(seconds=40 - n)
        events.append({"event_type": "impression", "impression_id": f"{placement}-{n}", "placement_id": placement,
                       "ad_id": ad, "event_time": _iso(moment)})
        if ad == GOOD and n % 4 == 1:
            events.append({"event_type": "click", "impression_id": f"{placement}-{n}", "placement_id": placement,
                           "ad_id": ad, "event_time": _iso(moment + timedelta(seconds=1))})
    response = target.client("kinesis").put_records(StreamName=outputs["AdEventsStreamName"], Records=[
        {"PartitionKey": e["impression_id"], "Data": json.dumps(e).encode()} for e in events])
    report.expect(f"ad events on {outputs['AdEventsStreamName']}", response["FailedRecordCount"] == 0,
                  f"{len(events)} impressions and clicks put", f"{response['FailedRecordCount']} of {len(events)} rejected")


def _put_window(target: Target, outputs: dict, placement: str, report: SmokeReport) -> datetime:
    """Two ads' windows as the job writes them: one clearly better, both above the threshold."""
    end = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    rows = [(GOOD, 2000, 160), (WEAK, 2000, 20)]
    records = [{"PartitionKey": placement, "Data": json.dumps({
        "window_start": (end - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S"),
        "window_end": end.strftime("%Y-%m-%dT%H:%M:%S"), "placement_id": placement, "ad_id": ad,
        "impressions": impressions, "clicks": clicks, "unattributed_clicks": 0, "ctr": clicks / impressions}).encode()}
        for ad, impressions, clicks in rows]
    response = target.client("kinesis").put_records(StreamName=outputs["PlacementCtrStreamName"], Records=records)
    where = "as the Flink job would (it is a no-op here)" if target.is_localstack else "beside the job's own"
    report.expect(f"CTR window on {outputs['PlacementCtrStreamName']}", response["FailedRecordCount"] == 0,
                  f"{len(records)} window records for {placement} put, {where}",
                  f"{response['FailedRecordCount']} of {len(records)} rejected")
    return end


def _check_api(target: Target, outputs: dict, placement: str, report: SmokeReport) -> None:
    api = _api(target, outputs)
    answers = []
    for _ in range(30):   # exploration answers a share of requests at random; look for an exploit
        status, body = api.get(f"placements/{placement}/ad", {"candidates": f"{GOOD},{WEAK}"})
        answers.append((status, body))
        if status != 200 or body.get("decision") == "exploit":
            break
    status, body = answers[-1]
    chosen = [b.get("ad_id") for s, b in answers if s == 200]
    report.expect("placement API answers from the ranking", status == 200 and body.get("ad_id") == GOOD
                  and set(chosen) <= {GOOD, WEAK},
                  f"{GOOD} ({body.get('decision')}, window {body.get('window_end')}) after {len(answers)} request(s)",
                  f"HTTP {status}: {body} after {len(answers)} request(s)")
    status, body = api.get(f"placements/smoke-{uuid.uuid4().hex[:8]}-unknown/ad")
    fallback = outputs["FallbackAd"]
    report.expect("fallback for a placement without a ranking",   # no candidates: nothing to explore
                  status == 200 and (body.get("ad_id"), body.get("decision")) == (fallback, "fallback"),
                  f"{body.get('ad_id')} ({body.get('decision')})", f"HTTP {status}: {body}")
    status, body = api.get(f"placements/{placement}/ad", {"candidates": "ad-good,,ad weak"})
    report.expect("malformed request refused", status == 400 and "candidates" in body.get("message", ""),
                  f"HTTP 400: {body.get('message')}", f"HTTP {status}: {body}")


def _api(target: Target, outputs: dict) -> Api:
    api_id, stage = outputs["PlacementApiId"], outputs["PlacementApiStage"]
    if target.is_localstack:
        endpoint = target.client("apigateway").meta.endpoint_url.rstrip("/")
        base = f"{endpoint}/restapis/{api_id}/{stage}/_user_request_"
    else:
        base = outputs["PlacementApiUrl"].rstrip("/")
    headers = {"Accept": "application/json"}
    if outputs.get("PlacementApiKeyId"):
        key = target.client("apigateway").get_api_key(apiKey=outputs["PlacementApiKeyId"], includeValue=True)
        headers["x-api-key"] = key["value"]
    return Api(base, headers, target)


def _sigv4(target: Target, url: str) -> dict[str, str]:
    """SigV4 headers for an execute-api GET with the target's credentials (IAM authorization)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    request = AWSRequest(method="GET", url=url)
    SigV4Auth(target.session.get_credentials(), "execute-api", target.region).add_auth(request)
    return dict(request.headers)


def _item(dynamodb: Any, table: str, placement: str) -> dict | None:
    return dynamodb.get_item(TableName=table, Key={"placement_id": {"S": placement}}).get("Item")


def _ranked_window(dynamodb: Any, table: str, placement: str, window_end: datetime) -> dict | None:
    item = _item(dynamodb, table, placement)
    if item and int(item["window_end"]["N"]) == int(window_end.timestamp() * 1000) and len(_ranking(item)) == 2:
        return item
    return None


def _ranking(item: dict) -> list[str]:
    ranking = item.get("ranking", {}).get("M", {})
    return sorted(ranking, key=lambda ad: (-float(ranking[ad]["M"]["score"]["N"]), ad))


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"

