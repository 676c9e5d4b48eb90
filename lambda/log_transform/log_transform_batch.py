"""Firehose transformation records in, Firehose response records out. Pure: no AWS calls.

Every recordId comes back exactly once, in input order:
    Ok                a line that parsed; data = base64 of its JSON line, and metadata.
                      partitionKeys.dt = the UTC day of the line's own time (or "undated",
                      see log_transform_partition) for Firehose's dynamic partitioning
    ProcessingFailed  a line that did not parse (or invalid base64), with its data
                      unchanged, so Firehose writes it to the error output prefix
    Dropped           only for records the adapter has re-ingested into the stream

6 MB response limit: the response always fits, by construction. Every record first
counts at its ProcessingFailed size (original data, which is smaller than the request
Firehose sent us). Then, in input order, a parsed record is upgraded to Ok while the
response stays within the budget; the ones that do not fit are the overflow. The adapter
re-ingests the overflow into the delivery stream (as the AWS blueprint does) and only
then marks it Dropped, which makes the response smaller; whatever Firehose does not
accept stays ProcessingFailed with its original data, so nothing is lost. Should even the
all-ProcessingFailed response not fit (it is smaller than the request, so only a request
within 64 KiB of the limit could), ResponseTooLarge fails the invocation and Firehose
retries the batch, then writes it to the error prefix: still nothing is lost.

`transform_batch` is the hot loop: one flat pass over the batch, the fast path for the
common line (log_transform_fast) and the full parser for the rest, sizes summed in bulk.
It gives the response `transform_record` + `plan_response` give, byte for byte, and falls
back to that exact planning when the bulk total cannot stand in for it.
"""

from __future__ import annotations

import binascii
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii as _quoted  # json.dumps's string encoder
from typing import NamedTuple

from log_transform_fast import fast_json_line_and_day
from log_transform_parse import InvalidLogLine, json_line, parse_log_line
from log_transform_partition import Partitioner

OK, FAILED, DROPPED = "Ok", "ProcessingFailed", "Dropped"
INVALID_BASE64 = "invalid base64"  # the reason of a record whose data is not base64

RESPONSE_LIMIT_BYTES = 6 * 1024 * 1024  # Lambda's synchronous response payload limit
# Headroom for anything the runtime adds around the payload that we do not see.
RESPONSE_BUDGET_BYTES = RESPONSE_LIMIT_BYTES - 64 * 1024

PUT_BATCH_MAX_RECORDS = 500  # PutRecordBatch limits
PUT_BATCH_MAX_BYTES = 4 * 1024 * 1024

# Sizes are those of json.dumps with its defaults (ASCII escapes, ", " separators): the
# most bytes any encoder the Lambda runtime uses can produce for the same response. They
# are computed from the strings' lengths, not by serializing every entry twice.
_EMPTY_RESPONSE_SIZE = len(json.dumps({"records": []}))
_SEPARATOR_SIZE = len(", ")
_OK_FRAME = len(json.dumps({"recordId": "", "result": OK, "data": "",           # minus three ""
                            "metadata": {"partitionKeys": {"dt": ""}}})) - 6
_FAILED_FRAME = len(json.dumps({"recordId": "", "result": FAILED, "data": ""})) - 4


class ResponseTooLarge(RuntimeError):
    """Even with every record ProcessingFailed the response would not fit."""


class Transformed(NamedTuple):  # a tuple: one is built per record, so it must be cheap
    record_id: str
    original: str  # the record's data exactly as received
    line: bytes | None  # decoded data, kept for re-ingestion; None if not base64
    output: str | None  # base64 of the JSON line; None if the line did not parse
    reason: str | None  # why it did not parse
    partition: str | None = None  # the dt key of a line that parsed


@dataclass(frozen=True, slots=True)
class ResponsePlan:
    records: list[dict]  # response entries, in input order
    overflow: list[int]  # positions that parsed but did not fit; ProcessingFailed for now
    size: int  # bytes of json.dumps({"records": records})


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    records: list[dict]  # response entries, in input order
    overflow: list[int]  # as in ResponsePlan
    size: int  # bytes of json.dumps({"records": records})
    parsed: int  # records whose line parsed: Ok, or in the overflow
    failure_reasons: Counter  # why the others did not parse, with counts


def transform_batch(records: Sequence[dict], budget: int = RESPONSE_BUDGET_BYTES,
                    partitioner: Partitioner | None = None) -> BatchOutcome:
    """The response plan_response gives for transform_record of every record, in one pass."""
    a2b, b2a, fast = binascii.a2b_base64, binascii.b2a_base64, fast_json_line_and_day
    partitioner = partitioner or Partitioner()
    key_of, metadata_of = partitioner.key, partitioner.metadata
    days: dict[tuple[bytes, int | None], dict] = {}  # (line day, arrival day) -> metadata
    entries: list[dict] = []
    append = entries.append
    reasons: dict[int, str] = {}  # position -> why it did not parse
    data_chars = 0  # the entries' "data" and "dt" strings, which need no escaping
    exact = False  # the bulk total cannot stand in for plan_response
    for record in records:
        record_id, original = record["recordId"], record["data"]
        try:
            line = a2b(original, strict_mode=True)
        except (binascii.Error, ValueError, TypeError):
            reasons[len(entries)] = INVALID_BASE64
            append({"recordId": record_id, "result": FAILED, "data": original})
            exact = True  # its size needs escaping
            continue
        arrival = record.get("approximateArrivalTimestamp")
        rendered = fast(line)
        if rendered is None:
            try:
                fields = parse_log_line(line)
            except InvalidLogLine as error:
                reasons[len(entries)] = str(error)
                append({"recordId": record_id, "result": FAILED, "data": original})
                data_chars += len(original)
                continue
            output = b2a(json_line(fields), newline=False).decode("ascii")
            metadata = metadata_of(key_of(fields["timestamp"][:10], arrival))
            # The full parser can drop text (a garbage request line): an Ok entry smaller
            # than its ProcessingFailed one breaks the bulk argument below.
            key = metadata["partitionKeys"]["dt"]
            if _OK_FRAME + len(output) + len(key) + 2 < _FAILED_FRAME + len(original):
                exact = True
        else:  # a fast line keeps all its text and adds the keys: always larger when Ok
            encoded, day = rendered
            output = b2a(encoded, newline=False).decode("ascii")
            by_day = (day, arrival // 86_400_000 if arrival is not None else None)
            metadata = days.get(by_day)
            if metadata is None:
                metadata = days[by_day] = metadata_of(key_of(day.decode("ascii"), arrival))
            key = metadata["partitionKeys"]["dt"]
        append({"recordId": record_id, "result": OK, "data": output, "metadata": metadata})
        data_chars += len(output) + len(key) + 2  # the key's quotes: the Ok frame has one pair

    count = len(entries)
    parsed = count - len(reasons)
    failure_reasons = Counter(reasons.values())
    if not exact:
        # With no Ok entry smaller than its ProcessingFailed one, every prefix of
        # plan_response's upgrades is at most the all-Ok total: if that fits, all are Ok.
        ids_size = len(_quoted("".join([record["recordId"] for record in records]))) - 2
        total = (_EMPTY_RESPONSE_SIZE + _SEPARATOR_SIZE * max(count - 1, 0)
                 + ids_size + 2 * count  # each id's escapes, and its own quotes
                 + parsed * (_OK_FRAME + 2) + (count - parsed) * (_FAILED_FRAME + 2)
                 + data_chars)
        if total <= budget:
            return BatchOutcome(entries, [], total, parsed, failure_reasons)
    results = [_as_transformed(record, entry, reasons.get(position))
               for position, (record, entry) in enumerate(zip(records, entries))]
    plan = plan_response(results, budget)
    return BatchOutcome(plan.records, plan.overflow, plan.size, parsed, failure_reasons)


def _as_transformed(record: dict, entry: dict, reason: str | None) -> Transformed:
    ok = entry["result"] == OK
    line = None if reason == INVALID_BASE64 else original_line(record)
    return Transformed(record["recordId"], record["data"], line, entry["data"] if ok else None, reason,
                       entry["metadata"]["partitionKeys"]["dt"] if ok else None)


def original_line(record: dict) -> bytes:
    """The decoded data of a record whose data is valid base64 (one that parsed, say)."""
    return binascii.a2b_base64(record["data"], strict_mode=True)


def transform_record(record: dict, partitioner: Partitioner | None = None) -> Transformed:
    record_id, original = record["recordId"], record["data"]
    try:
        line = binascii.a2b_base64(original, strict_mode=True)
    except (binascii.Error, ValueError, TypeError):
        return Transformed(record_id, original, None, None, INVALID_BASE64)
    try:
        fields = parse_log_line(line)
    except InvalidLogLine as error:
        return Transformed(record_id, original, line, None, str(error))
    output = binascii.b2a_base64(json_line(fields), newline=False).decode("ascii")
    key = (partitioner or _DEFAULT_PARTITIONER).key(fields["timestamp"][:10], record.get("approximateArrivalTimestamp"))
    return Transformed(record_id, original, line, output, None, key)


_DEFAULT_PARTITIONER = Partitioner()   # the default first day; a record without arrival: the clock


def plan_response(results: Sequence[Transformed],
                  budget: int = RESPONSE_BUDGET_BYTES) -> ResponsePlan:
    """Response entries that fit in `budget` bytes, and the parsed records that did not."""
    id_sizes = [len(_quoted(result.record_id)) for result in results]
    failed_sizes = [_FAILED_FRAME + id_size + _original_size(result)
                    for result, id_size in zip(results, id_sizes)]
    total = response_size(failed_sizes)
    if total > budget:
        raise ResponseTooLarge(f"{len(results)} failed records need {total} bytes, "
                               f"over the {budget}-byte budget")
    records, overflow = [], []
    for position, result in enumerate(results):
        if result.output is None:
            records.append(failed_entry(result))
            continue
        # base64 and the day key need no escapes
        ok_size = _OK_FRAME + id_sizes[position] + len(result.output) + 2 + len(result.partition) + 2
        growth = ok_size - failed_sizes[position]
        if total + growth <= budget:
            records.append({"recordId": result.record_id, "result": OK, "data": result.output,
                            "metadata": {"partitionKeys": {"dt": result.partition}}})
            total += growth
        else:
            records.append(failed_entry(result))
            overflow.append(position)
    return ResponsePlan(records, overflow, total)


def _original_size(result: Transformed) -> int:
    if result.line is not None:  # valid base64: only [A-Za-z0-9+/=], nothing to escape
        return len(result.original) + 2
    return len(_quoted(result.original))


def failed_entry(result: Transformed) -> dict:
    return {"recordId": result.record_id, "result": FAILED, "data": result.original}


def dropped_entry(record_id: str) -> dict:
    return {"recordId": record_id, "result": DROPPED}


def response_size(entry_sizes: Sequence[int]) -> int:
    """Bytes of json.dumps({"records": entries}) given each entry's json.dumps length."""
    separators = _SEPARATOR_SIZE * max(len(entry_sizes) - 1, 0)
    return _EMPTY_RESPONSE_SIZE + sum(entry_sizes) + separators


def put_batches(payloads: Sequence[bytes]) -> list[list[int]]:
    """Indexes of `payloads` grouped, in order, into PutRecordBatch-sized calls."""
    batches: list[list[int]] = []
    batch_bytes = 0
    for index, payload in enumerate(payloads):
        if (not batches or len(batches[-1]) == PUT_BATCH_MAX_RECORDS
                or batch_bytes + len(payload) > PUT_BATCH_MAX_BYTES):
            batches.append([])
            batch_bytes = 0
        batches[-1].append(index)
        batch_bytes += len(payload)
    return batches


def delivery_stream_name(arn: str) -> str:
    """arn:aws:firehose:<region>:<account>:deliverystream/<name> -> <name>."""
    return arn.split(":", 5)[5].removeprefix("deliverystream/")
