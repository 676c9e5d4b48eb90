"""The updater's I/O: the placements table (conditional, monotonic writes) and the quarantine.

One item per placement: the ranking of its newest window.

    placement_id  S   key
    window_start  N   epoch ms of the window the ranking is from
    window_end    N   epoch ms; what every write is conditioned on
    ranking       M   ad id -> {score N, eligible BOOL, impressions N, clicks N, unattributed_clicks N}
    prior_ctr     N   the score of an ad with too few impressions (and of one the window lacks)
    expires_at    N   epoch s: window end + the ranking TTL (DynamoDB's TTL removes stale rankings)

A write for a newer window replaces the item; a write for the stored window adds its ads
(a window's ads may arrive in two batches); a write for an older window is rejected by the
condition, so a redelivered or out-of-order window never rolls a ranking back. The first
write asks for the stored item when its condition fails, which tells the three cases apart
without a read, and lets a redelivery that would store the same values skip its write.
At ~120 bytes an ad, the 400 KB item limit allows ~3,000 ads in one placement's window.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from placement_scoring import Entry

REPLACED, MERGED, UNCHANGED, STALE = "replaced", "merged", "unchanged", "stale"
SEND_BATCH_LIMIT = 10
AWS_ERRORS = (ClientError, BotoCoreError)


class StoreUnavailable(Exception):
    """A write failed for a reason worth retrying (throttling, a timeout, a 5xx)."""


@dataclass(frozen=True)
class RankingWrite:
    placement_id: str
    window_start_ms: int
    window_end_ms: int
    entries: Mapping[str, Entry]
    prior_ctr: float
    expires_at: int


def _number(value: float | int) -> dict[str, str]:
    # Plain decimal notation (repr would write 1e-05); DynamoDB keeps it as given.
    return {"N": format(Decimal(repr(value)), "f") if isinstance(value, float) else str(value)}


def entry_attribute(entry: Entry) -> dict[str, Any]:
    return {"M": {"score": _number(entry.score), "eligible": {"BOOL": entry.eligible},
                  "impressions": _number(entry.impressions), "clicks": _number(entry.clicks),
                  "unattributed_clicks": _number(entry.unattributed_clicks)}}


def entry_from_attribute(value: Mapping[str, Any]) -> Entry:
    fields = value["M"]
    return Entry(int(fields["impressions"]["N"]), int(fields["clicks"]["N"]),
                 int(fields["unattributed_clicks"]["N"]), float(fields["score"]["N"]),
                 fields["eligible"]["BOOL"])


class DynamoPlacementStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self.client, self.table_name = client, table_name

    def write(self, ranking: RankingWrite) -> str:
        key = {"placement_id": {"S": ranking.placement_id}}
        window = _number(ranking.window_end_ms)
        try:
            self.client.update_item(
                TableName=self.table_name, Key=key,
                UpdateExpression="SET window_start = :start, window_end = :end, ranking = :ranking, "
                                 "prior_ctr = :prior, expires_at = :expires",
                ConditionExpression="attribute_not_exists(window_end) OR window_end < :end",
                ExpressionAttributeValues={
                    ":start": _number(ranking.window_start_ms), ":end": window,
                    ":ranking": {"M": {ad: entry_attribute(e) for ad, e in ranking.entries.items()}},
                    ":prior": _number(ranking.prior_ctr), ":expires": _number(ranking.expires_at)},
                ReturnValuesOnConditionCheckFailure="ALL_OLD")
            return REPLACED
        except ClientError as error:
            if not _condition_failed(error):
                raise StoreUnavailable(_describe(error)) from error
            stored = error.response.get("Item", {})
        except BotoCoreError as error:
            raise StoreUnavailable(str(error)) from error
        if int(stored["window_end"]["N"]) > ranking.window_end_ms:
            return STALE
        held = stored.get("ranking", {}).get("M", {})
        missing = {ad: e for ad, e in ranking.entries.items()
                   if ad not in held or entry_from_attribute(held[ad]) != e}
        if not missing:
            return UNCHANGED
        return self._merge(key, window, missing)

    def _merge(self, key: dict, window: dict, entries: Mapping[str, Entry]) -> str:
        names = {f"#ad{i}": ad for i, ad in enumerate(entries)}
        values = {f":ad{i}": entry_attribute(e) for i, e in enumerate(entries.values())}
        try:
            self.client.update_item(
                TableName=self.table_name, Key=key,
                UpdateExpression="SET " + ", ".join(f"ranking.{name} = :{name[1:]}" for name in names),
                ConditionExpression="window_end = :end",
                ExpressionAttributeNames=names, ExpressionAttributeValues={**values, ":end": window})
            return MERGED
        except ClientError as error:
            if _condition_failed(error):   # a newer window replaced it in the meantime
                return STALE
            raise StoreUnavailable(_describe(error)) from error
        except BotoCoreError as error:
            raise StoreUnavailable(str(error)) from error


def _condition_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _describe(error: ClientError) -> str:
    details = error.response.get("Error", {})
    return f"{details.get('Code', 'error')}: {details.get('Message', '')}"


@dataclass(frozen=True)
class QuarantineMessage:
    sequence_number: str
    partition_key: str
    reason: str
    data: str   # the record's text, as far as it decodes

    def body(self) -> str:
        return json.dumps({"reason": self.reason, "sequence_number": self.sequence_number,
                           "partition_key": self.partition_key, "data": self.data[:4000]})   # ten fit one SendMessageBatch


class SqsQuarantine:
    def __init__(self, client: Any, queue_url: str) -> None:
        self.client, self.queue_url = client, queue_url

    def send(self, messages: Sequence[QuarantineMessage]) -> set[str]:
        """Sequence numbers of the messages that could not be sent."""
        not_sent: set[str] = set()
        for start in range(0, len(messages), SEND_BATCH_LIMIT):
            group = messages[start:start + SEND_BATCH_LIMIT]
            entries = [{"Id": str(i), "MessageBody": m.body(),
                        "MessageAttributes": {"reason": {"DataType": "String", "StringValue": m.reason}}}
                       for i, m in enumerate(group)]
            try:
                response = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
                failed = [int(e["Id"]) for e in response.get("Failed", [])]
            except AWS_ERRORS:
                failed = list(range(len(group)))
            not_sent |= {group[i].sequence_number for i in failed}
        return not_sent
