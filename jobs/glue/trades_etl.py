"""Glue job: raw trade CSV -> validated, de-duplicated Parquet partitioned by trade_date.

Plain PySpark (no `awsglue` import), so the same script runs on Glue 5.0 (Spark 3.5) and on
local Spark in the tests.

Incremental: each run processes only the trade dates that raw objects it has not processed
touch (see "The run's scope" below), so its cost follows the new data, not the history.

Arguments (Glue passes them as `--name value`; anything else Glue adds is ignored):
  --source_path    raw CSV prefix, read recursively (header: trade_id, symbol, side,
                   quantity, price, trade_ts)
  --target_path    curated Parquet, Hive-style `trade_date=YYYY-MM-DD/` folders (table `trades`)
  --quality_path   where the run's data-quality summary goes: <quality_path>/<JOB_NAME>/<run id>.json
  --rejected_path  optional; rejected rows with their reason (table `trades_rejected`),
                   default: the target path with `_rejected` appended (s3://b/trades/ -> s3://b/trades_rejected/)
  --JOB_NAME, --JOB_RUN_ID  set by Glue; name the summary file (defaults: trades_etl, a UTC timestamp)
  --first_trade_date  optional, YYYY-MM-DD (default 2024-01-01): the first day the trades table
                   projects; a trade before it, or after the day following the run, is rejected
                   as timestamp_out_of_range, so every stored trade_date is one Athena can find
  --as_of          optional, an ISO-8601 instant (default: now): the run's clock, for the range above
                   and the undated partition's name (tests and reruns pass it)
  --backfill_dates optional: reprocess these trade dates on purpose (after a fix in this script,
                   say) from every raw object holding rows of them: `2024-05-01`, a range
                   `2024-05-01:2024-05-07`, a comma-separated list of either, or `all`

What happens to each raw row (every row read ends up in exactly one of three places):
  written    valid, and the first row of its trade_id (curated Parquet)
  duplicate  valid, and equal after normalisation (same instant, same decimal price, side
             and symbol upper-cased) to the row kept for its trade_id: a re-delivery. Counted
             in the summary as duplicates_removed, not kept anywhere.
  rejected   with one reason, the first failing check in this order:
               malformed_row       wrong number of fields (the raw line is kept)
               missing_trade_id    empty trade_id
               bad_trade_id        longer than 64 bytes in UTF-8 (the warehouse's trade_id is
                                   VARCHAR(64): one longer id fails the whole Parquet COPY), or
                                   holding a control character (Unicode Cc: tab, NUL, ESC, ...)
               bad_symbol          not 1-10 of [A-Z.] after upper-casing
               bad_side            not BUY or SELL (any case)
               bad_quantity        not a whole number > 0 (at most 18 digits)
               bad_price           not a decimal > 0 that fits decimal(18,4) exactly
               bad_timestamp       not ISO-8601 with a zone (Z or +hh:mm), or not a real instant
               timestamp_out_of_range  before --first_trade_date, or after the day following the run
               duplicate_trade_id  valid, but its trade_id was already kept with different
                                   values: the earliest trade_ts wins (ties: symbol, side,
                                   quantity, price), later versions are rejected for review.
Invalid rows are never de-duplicated: the rejected output shows every bad row that arrived.

The run's scope. The job keeps a record of the raw objects it has processed
(<quality_path>/<JOB_NAME>/processed-objects.json: each object's size, modification time and
the trade dates its rows fall on). A run lists the raw prefix and finds the objects that are
new (or changed); the trade dates their rows fall on are the run's dates. It then reads every
object, new or recorded, that holds rows of those dates, keeps only those rows, and rewrites
exactly those partitions, whole, with dynamic partition overwrite: a day that gets a late
file is recomputed from all of that day's files, so de-duplication still sees the whole day.
A trade id also stored under another date (a conflicting version, judged by the earliest
trade_ts) brings that date into the run too, so the result equals a run over all the raw
data. A date of the run left with no rows is cleared. With no new object a run reads nothing
and writes nothing; a failed run leaves the record as it was, so its rerun does the same work
again. Losing the record costs one full run, which rebuilds it. Glue job bookmarks are not used
(the record is this script's own), so the job runs with `--job-bookmark-option job-bookmark-disable`.

Rejected rows are partitioned by the trade_date of their timestamp; rows without a usable one
(unparseable or out of range) go to the partition `undated-<day their object was first
processed>`, e.g. trade_date=undated-2024-05-03: a named partition per day of arrival, so that
rewriting it reads that day's objects only.

The load manifest. The run also writes <quality_path>/<JOB_NAME>/<run id>.manifest: a Redshift
COPY manifest of the curated files in the partitions it wrote (empty when it wrote none), which
the warehouse loader copies - only the dates this run wrote.

The summary (JSON) carries rows_read, rows_written, duplicates_removed, rows_rejected,
rejected_by_reason and rows per written partition. The counts come from three places, so that
the checks between them mean something:
  rows_read                        a count of the raw source
  the tally                        one aggregation of the classified rows by disposition, reason
                                   and trade_date: duplicates_removed, rejected_by_reason,
                                   rows_by_trade_date
  rows_written, rows_rejected      read back after writing: the rows now stored in the trade_date
                                   partitions this run wrote (footers' row counts, no data)
Before anything is written, rows_read must equal the tally's written + duplicates + rejected
(else the job fails and writes nothing). After writing, rows_written must equal the tally's
rows_by_trade_date, rows_rejected its rejected_by_reason, and rows_read == rows_written +
duplicates_removed + rows_rejected; else the job fails loudly without writing the summary
(the partitions it wrote stay, as the summary's absence says: the run did not finish).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

log = logging.getLogger("trades_etl")

RAW_COLUMNS = ("trade_id", "symbol", "side", "quantity", "price", "trade_ts")
MALFORMED_COLUMN = "malformed_record"
RAW_SCHEMA = StructType([StructField(name, StringType()) for name in (*RAW_COLUMNS, MALFORMED_COLUMN)])

CURATED_COLUMNS = ("trade_id", "symbol", "side", "quantity", "price", "trade_ts", "trade_date")
REJECTED_COLUMNS = (*RAW_COLUMNS, MALFORMED_COLUMN, "reason", "trade_date")
PARTITION_COLUMN = "trade_date"

# Reasons in the order they are checked; a row gets the first that applies.
REASONS = ("malformed_row", "missing_trade_id", "bad_trade_id", "bad_symbol", "bad_side",
           "bad_quantity", "bad_price", "bad_timestamp", "timestamp_out_of_range", "duplicate_trade_id")

WRITTEN, DUPLICATE, REJECTED = "written", "duplicate", "rejected"

TRADE_ID_MAX_BYTES = 64                                  # Redshift trades.trade_id VARCHAR(64): bytes
CONTROL_CHARACTER = r"\p{Cc}"                            # Java regex: U+0000-U+001F, U+007F-U+009F
SYMBOL_PATTERN = r"^[A-Z.]{1,10}$"
QUANTITY_PATTERN = r"^[0-9]{1,18}$"                      # fits a bigint
PRICE_PATTERN = r"^[0-9]{1,14}(\.[0-9]{1,4})?$"          # fits decimal(18,4) without rounding
TIMESTAMP_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})$"
TIMESTAMP_FORMAT = "yyyy-MM-dd'T'HH:mm:ss[.SSSSSS]XXX"
DEFAULT_FIRST_TRADE_DATE = "2024-01-01"
UNDATED = "undated-"            # + the day an object was first processed: its rows without a usable date
SOURCE_COLUMN = "_source"       # the raw object a row came from (its URI, as input_file_name gives it)
UNDATED_COLUMN = "_undated"     # the undated-... partition of that object


# --- arguments -------------------------------------------------------------------------

class JobArgumentError(ValueError):
    """A required job argument is missing or empty."""


@dataclass(frozen=True)
class JobArgs:
    source_path: str
    target_path: str
    quality_path: str
    rejected_path: str
    job_name: str
    run_id: str
    first_trade_date: str = DEFAULT_FIRST_TRADE_DATE
    as_of: datetime = datetime(2024, 1, 1, tzinfo=UTC)
    backfill: tuple[str, ...] = ()      # trade dates (or undated-... partitions) to redo; ("all",)

    @property
    def summary_path(self) -> str:
        return f"{self._run_folder}/{self.run_id}.json"

    @property
    def manifest_path(self) -> str:
        """The Redshift COPY manifest of the curated files this run wrote."""
        return f"{self._run_folder}/{self.run_id}.manifest"

    @property
    def state_path(self) -> str:
        """The record of the raw objects processed so far."""
        return f"{self._run_folder}/processed-objects.json"

    @property
    def _run_folder(self) -> str:
        return f"{self.quality_path.rstrip('/')}/{self.job_name}"

    @property
    def run_day(self) -> str:
        return self.as_of.strftime("%Y-%m-%d")

    @property
    def last_trade_date(self) -> str:
        """The day after the run: the last trade date the trades table's projection covers."""
        return (self.as_of + timedelta(days=1)).strftime("%Y-%m-%d")


REQUIRED_ARGS = ("source_path", "target_path", "quality_path")


def parse_args(argv: Sequence[str]) -> JobArgs:
    """Read Glue-style `--name value` (or `--name=value`) pairs; unknown names are ignored.

    A name followed directly by another `--name` (a bare flag) has the value "true".
    `argv` excludes the script name (pass sys.argv[1:]).
    """
    values: dict[str, str] = {}
    tokens = list(argv)
    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if not token.startswith("--"):
            continue   # a stray positional value: Glue passes none, so ignore it
        name, has_value, value = token[2:].partition("=")
        if not has_value:
            if index < len(tokens) and not tokens[index].startswith("--"):
                value = tokens[index]
                index += 1
            else:
                value = "true"
        values[name] = value
    missing = [name for name in REQUIRED_ARGS if not values.get(name, "").strip()]
    if missing:
        raise JobArgumentError("missing job argument(s): " + ", ".join(f"--{name}" for name in missing))
    target = values["target_path"].strip()
    rejected = values.get("rejected_path", "").strip() or target.rstrip("/") + "_rejected/"
    if rejected.rstrip("/") == target.rstrip("/"):
        raise JobArgumentError(f"--rejected_path {rejected} must differ from --target_path {target}")
    now = datetime.now(UTC)
    return JobArgs(
        source_path=values["source_path"].strip(), target_path=target,
        quality_path=values["quality_path"].strip(), rejected_path=rejected,
        job_name=values.get("JOB_NAME", "").strip() or "trades_etl",
        run_id=values.get("JOB_RUN_ID", "").strip() or now.strftime("%Y%m%dT%H%M%S%fZ"),
        first_trade_date=_date_argument("first_trade_date", values.get("first_trade_date", "").strip()
                                        or DEFAULT_FIRST_TRADE_DATE),
        as_of=_instant_argument(values.get("as_of", "").strip()) or now,
        backfill=parse_backfill(values.get("backfill_dates", "").strip()))


def _date_argument(name: str, text: str) -> str:
    try:
        if len(text) == 10 and date.fromisoformat(text):
            return text
    except ValueError:
        pass
    raise JobArgumentError(f"--{name} {text!r}: expected a date YYYY-MM-DD")


def _instant_argument(text: str) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise JobArgumentError(f"--as_of {text!r}: expected an ISO-8601 instant with a zone")
    return moment.astimezone(UTC)


def parse_backfill(text: str) -> tuple[str, ...]:
    """`2024-05-01`, `2024-05-01:2024-05-03`, a comma-separated list of either (an undated-...
    partition name too), or `all` -> the sorted partition values to reprocess."""
    if not text:
        return ()
    if text == "all":
        return ("all",)
    days: set[str] = set()
    for part in (p.strip() for p in text.split(",")):
        if part.startswith(UNDATED):
            days.add(UNDATED + _date_argument("backfill_dates", part.removeprefix(UNDATED)))
            continue
        first, _, last = part.partition(":")
        start = date.fromisoformat(_date_argument("backfill_dates", first))
        end = date.fromisoformat(_date_argument("backfill_dates", last or first))
        if end < start or (end - start).days > 3660:
            raise JobArgumentError(f"--backfill_dates {part!r}: expected a range of at most ten years, first to last")
        days |= {(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)}
    return tuple(sorted(days))


# --- the transformation ----------------------------------------------------------------

def read_raw(spark: SparkSession, source_path: str | Sequence[str]) -> DataFrame:
    """Every field as a string (we judge the values, not the CSV reader); wrong field
    counts land in `malformed_record`; a header that is not RAW_COLUMNS fails the read."""
    return (spark.read.schema(RAW_SCHEMA)
            .option("header", True)
            .option("enforceSchema", False)          # check the header's names against the schema
            .option("mode", "PERMISSIVE")
            .option("columnNameOfCorruptRecord", MALFORMED_COLUMN)
            .option("recursiveFileLookup", True)     # any folder layout under the prefix
            .csv(source_path))


def _typed(raw: DataFrame, first_trade_date: str = DEFAULT_FIRST_TRADE_DATE,
           last_trade_date: str | None = None) -> DataFrame:
    """Adds the normalised, typed value of each field (null where it does not parse), the
    row's reason (null for a valid row) and its trade_date partition: the UTC day of a usable
    trade_ts, else the row's `_undated` partition (null without that column). A source column
    in `raw` is kept."""
    extras = [SOURCE_COLUMN] if SOURCE_COLUMN in raw.columns else []
    undated = F.col(UNDATED_COLUMN) if UNDATED_COLUMN in raw.columns else F.lit(None).cast("string")
    trimmed = {name: F.trim(F.col(name)) for name in RAW_COLUMNS}
    symbol = F.upper(trimmed["symbol"])
    side = F.upper(trimmed["side"])
    quantity_ok = trimmed["quantity"].rlike(QUANTITY_PATTERN)
    price_ok = trimmed["price"].rlike(PRICE_PATTERN)
    ts_ok = trimmed["trade_ts"].rlike(TIMESTAMP_PATTERN)
    typed = raw.select(
        *RAW_COLUMNS, MALFORMED_COLUMN, *extras, undated.alias(UNDATED_COLUMN),
        F.when(F.length(trimmed["trade_id"]) > 0, trimmed["trade_id"]).alias("t_trade_id"),
        F.when(symbol.rlike(SYMBOL_PATTERN), symbol).alias("t_symbol"),
        F.when(side.isin("BUY", "SELL"), side).alias("t_side"),
        F.when(quantity_ok, trimmed["quantity"].cast("bigint")).alias("t_quantity"),
        F.when(price_ok, trimmed["price"].cast("decimal(18,4)")).alias("t_price"),
        F.when(ts_ok, F.try_to_timestamp(trimmed["trade_ts"], F.lit(TIMESTAMP_FORMAT))).alias("t_trade_ts"),
    )
    # trade_date is the UTC day; the session time zone is UTC (see configure_session).
    day = F.date_format("t_trade_ts", "yyyy-MM-dd")
    in_range = day >= F.lit(first_trade_date)
    if last_trade_date is not None:
        in_range = in_range & (day <= F.lit(last_trade_date))
    reason = (
        F.when(F.col(MALFORMED_COLUMN).isNotNull(), F.lit("malformed_row"))
        .when(F.col("t_trade_id").isNull(), F.lit("missing_trade_id"))
        .when((F.octet_length("t_trade_id") > TRADE_ID_MAX_BYTES) | F.col("t_trade_id").rlike(CONTROL_CHARACTER),
              F.lit("bad_trade_id"))
        .when(F.col("t_symbol").isNull(), F.lit("bad_symbol"))
        .when(F.col("t_side").isNull(), F.lit("bad_side"))
        .when(F.col("t_quantity").isNull() | (F.col("t_quantity") <= 0), F.lit("bad_quantity"))
        .when(F.col("t_price").isNull() | (F.col("t_price") <= 0), F.lit("bad_price"))
        .when(F.col("t_trade_ts").isNull(), F.lit("bad_timestamp"))
        .when(~in_range, F.lit("timestamp_out_of_range"))
    )
    return (typed.withColumn("reason", reason)
            .withColumn(PARTITION_COLUMN, F.when(F.col("t_trade_ts").isNotNull() & in_range, day)
                        .otherwise(F.col(UNDATED_COLUMN)))
            .drop(UNDATED_COLUMN))


def classify_trades(raw: DataFrame, first_trade_date: str = DEFAULT_FIRST_TRADE_DATE,
                    last_trade_date: str | None = None) -> DataFrame:
    """Each raw row with a `disposition` (written / duplicate / rejected) and a `reason`."""
    return classify_typed(_typed(raw, first_trade_date, last_trade_date))


def classify_typed(typed: DataFrame) -> DataFrame:
    """classify_trades on rows already typed (_typed), e.g. those of a run's dates."""
    if SOURCE_COLUMN in typed.columns:
        typed = typed.drop(SOURCE_COLUMN)
    content = ("t_trade_ts", "t_symbol", "t_side", "t_quantity", "t_price")
    by_trade = Window.partitionBy("t_trade_id").orderBy(*content)
    ranked = (typed.where(F.col("reason").isNull())
              .withColumn("_rank", F.row_number().over(by_trade))
              .withColumn("_kept", F.first(F.struct(*content)).over(by_trade)))
    valid = ranked.select(
        *RAW_COLUMNS, MALFORMED_COLUMN, *(f"t_{name}" for name in RAW_COLUMNS),
        F.when(F.col("_rank") == 1, F.lit(None).cast("string"))
         .when(F.struct(*content) == F.col("_kept"), F.lit(None).cast("string"))
         .otherwise(F.lit("duplicate_trade_id")).alias("reason"),
        PARTITION_COLUMN,
        F.when(F.col("_rank") == 1, F.lit(WRITTEN))
         .when(F.struct(*content) == F.col("_kept"), F.lit(DUPLICATE))
         .otherwise(F.lit(REJECTED)).alias("disposition"))
    invalid = typed.where(F.col("reason").isNotNull()).withColumn("disposition", F.lit(REJECTED))
    return valid.unionByName(invalid)


def split_trades(classified: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(curated rows, rejected rows) of a classified frame, in their output columns."""
    valid = classified.where(F.col("disposition") == WRITTEN).select(
        *(F.col(f"t_{name}").alias(name) for name in CURATED_COLUMNS[:-1]), PARTITION_COLUMN)
    rejected = classified.where(F.col("disposition") == REJECTED).select(*REJECTED_COLUMNS)
    return valid, rejected


def clean_trades(raw: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(valid_df, rejected_df): the curated rows and the rejected rows with their reason.
    Duplicates are in neither; main() counts them from classify_trades."""
    return split_trades(classify_trades(raw))


# --- the data-quality summary ----------------------------------------------------------

class QualityInvariantError(RuntimeError):
    """The run's counts do not add up: a row was lost or counted twice."""


@dataclass(frozen=True)
class Tally:
    """The classified rows counted by (disposition, reason, trade_date) in one aggregation:
    what the run means to write, known before it writes anything."""
    written_by_trade_date: dict[str, int]
    duplicates: int
    rejected_by_reason: dict[str, int]
    rejected_trade_dates: tuple[str | None, ...]     # partitions of the rejected output; None: the null one

    @classmethod
    def of(cls, counts: list[tuple[str, str | None, str | None, int]]) -> Tally:
        """From (disposition, reason, trade_date, count) groups."""
        written: dict[str, int] = {}
        by_reason: dict[str, int] = {}
        rejected_dates: set[str | None] = set()
        duplicates = 0
        for disposition, reason, trade_date, n in counts:
            if disposition == WRITTEN:
                written[trade_date] = written.get(trade_date, 0) + n
            elif disposition == DUPLICATE:
                duplicates += n
            elif disposition == REJECTED:       # any other disposition is unaccounted for: check_tally fails
                by_reason[reason or "unknown"] = by_reason.get(reason or "unknown", 0) + n
                rejected_dates.add(trade_date)
        return cls({day: written[day] for day in sorted(written)}, duplicates,
                   {reason: by_reason[reason] for reason in sorted(by_reason)},
                   tuple(sorted(rejected_dates, key=lambda day: (day is None, day or ""))))

    @property
    def written(self) -> int:
        return sum(self.written_by_trade_date.values())

    @property
    def rejected(self) -> int:
        return sum(self.rejected_by_reason.values())


def check_tally(rows_read: int, tally: Tally) -> None:
    """Before anything is written: every row read was classified exactly once."""
    accounted = tally.written + tally.duplicates + tally.rejected
    if rows_read != accounted:
        raise QualityInvariantError(
            f"rows_read {rows_read} != rows_written {tally.written} + duplicates_removed {tally.duplicates}"
            f" + rejected {tally.rejected} = {accounted}; nothing was written")


def build_summary(args: JobArgs, rows_read: int, tally: Tally, *, rows_written: int,
                  rows_rejected: int) -> dict[str, Any]:
    """The summary: rows_read counted from the source, rows_written and rows_rejected read back
    from the outputs, the breakdowns (by reason, by trade_date) from the tally."""
    return {
        "job_name": args.job_name, "run_id": args.run_id,
        "source_path": args.source_path, "target_path": args.target_path,
        "rejected_path": args.rejected_path,
        "rows_read": rows_read, "rows_written": rows_written, "duplicates_removed": tally.duplicates,
        "rows_rejected": rows_rejected,
        "rejected_by_reason": dict(tally.rejected_by_reason),
        "rows_by_trade_date": dict(tally.written_by_trade_date),
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def check_invariant(summary: dict[str, Any]) -> None:
    """The summary's independently obtained numbers agree: rows_read (the source) with
    rows_written and rows_rejected (read back from the outputs), and those with the tally."""
    read, written, rejected = summary["rows_read"], summary["rows_written"], summary["rows_rejected"]
    duplicates = summary["duplicates_removed"]
    tallied_written = sum(summary["rows_by_trade_date"].values())
    tallied_rejected = sum(summary["rejected_by_reason"].values())
    problems = []
    if read != written + duplicates + rejected:
        problems.append(f"rows_read {read} != rows_written {written} + duplicates_removed {duplicates}"
                        f" + rows_rejected {rejected} = {written + duplicates + rejected}")
    if written != tallied_written:
        problems.append(f"rows_written {written} != {tallied_written} tallied in rows_by_trade_date")
    if rejected != tallied_rejected:
        problems.append(f"rows_rejected {rejected} != {tallied_rejected} tallied in rejected_by_reason")
    if problems:
        raise QualityInvariantError("; ".join(problems))


# --- outputs ---------------------------------------------------------------------------

NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"     # Spark's (and Hive's) folder for a null trade_date


def _write_partitioned(frame: DataFrame, path: str, *order: str) -> None:
    # One task (so one file) per trade_date, rows sorted for tight Parquet min/max statistics;
    # overwrite only the partitions present in `frame`.
    (frame.repartition(PARTITION_COLUMN)
     .sortWithinPartitions(PARTITION_COLUMN, *order)
     .write.mode("overwrite")
     .option("partitionOverwriteMode", "dynamic")
     .partitionBy(PARTITION_COLUMN)
     .parquet(path))


def write_rows(valid: DataFrame, rejected: DataFrame, args: JobArgs) -> None:
    """Curated and rejected rows, each replacing the trade_date partitions it holds."""
    _write_partitioned(valid, args.target_path, "symbol", "trade_ts", "trade_id")
    _write_partitioned(rejected, args.rejected_path, "reason", "trade_id")


def _filesystem(spark: SparkSession, path: str) -> tuple[Any, Any]:
    """(Hadoop Path, its FileSystem): S3 on Glue, the local disk here."""
    hadoop_path = spark.sparkContext._jvm.org.apache.hadoop.fs.Path(path)
    return hadoop_path, hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())


def _exists(spark: SparkSession, path: str) -> bool:
    hadoop_path, filesystem = _filesystem(spark, path)
    return bool(filesystem.exists(hadoop_path))


def _partitions(trade_dates: Iterable[str | None]) -> list[str]:
    """The partition folder names of these trade dates (None: the null partition)."""
    return [f"{PARTITION_COLUMN}={NULL_PARTITION if day is None else day}" for day in trade_dates]


def count_stored(spark: SparkSession, path: str, trade_dates: Iterable[str | None]) -> int:
    """Rows now stored in these trade_date partitions of `path` (None: the null partition),
    read back from the files: a count needs no column, so Spark reads the Parquet footers'
    row counts, not the data. A partition folder that is missing counts 0 rows."""
    base = path.rstrip("/")
    folders = [f"{base}/{partition}" for partition in _partitions(trade_dates)]
    existing = [folder for folder in folders if _exists(spark, folder)]
    if not existing:
        return 0
    return spark.read.option("basePath", base).parquet(*existing).count()


def write_text(spark: SparkSession, path: str, text: str) -> None:
    """Write one small file through Hadoop's FileSystem: S3 on Glue, the local disk here."""
    hadoop_path, filesystem = _filesystem(spark, path)
    filesystem.setWriteChecksum(False)
    stream = filesystem.create(hadoop_path, True)
    try:
        stream.write(bytearray(text.encode("utf-8")))
    finally:
        stream.close()


def read_text(spark: SparkSession, path: str) -> str | None:
    """One small file's text, or None if there is none."""
    hadoop_path, filesystem = _filesystem(spark, path)
    if not filesystem.exists(hadoop_path):
        return None
    stream = filesystem.open(hadoop_path)
    try:
        reader = spark.sparkContext._jvm.java.io.BufferedReader(
            spark.sparkContext._jvm.java.io.InputStreamReader(stream, "UTF-8"))
        lines = []
        while (line := reader.readLine()) is not None:
            lines.append(line)
        return "\n".join(lines)
    finally:
        stream.close()


def delete_folder(spark: SparkSession, path: str) -> bool:
    hadoop_path, filesystem = _filesystem(spark, path)
    return bool(filesystem.exists(hadoop_path) and filesystem.delete(hadoop_path, True))


# --- the run's scope: which raw objects, which trade dates -------------------------------

@dataclass(frozen=True)
class RawObject:
    uri: str            # as input_file_name() reports it (the key of the record)
    read_path: str      # as Spark's reader takes it
    size: int
    modified_ms: int


@dataclass(frozen=True)
class ProcessedObject:
    """What the record keeps of an object it processed."""
    size: int
    modified_ms: int
    dates: tuple[str, ...]      # the partitions its rows fall on (undated-... included)
    undated: str                # its undated-... partition: the day it was first processed

    def same_object(self, raw: RawObject) -> bool:
        return (self.size, self.modified_ms) == (raw.size, raw.modified_ms)


def list_raw_objects(spark: SparkSession, root: str) -> dict[str, RawObject]:
    """Every data file under `root`, recursively; names starting with _ or . are skipped, as
    Spark's readers skip them (_SUCCESS, .crc)."""
    hadoop_path, filesystem = _filesystem(spark, root)
    if not filesystem.exists(hadoop_path):
        return {}
    found: dict[str, RawObject] = {}
    files = filesystem.listFiles(hadoop_path, True)
    while files.hasNext():
        status = files.next()
        path = status.getPath()
        if path.getName().startswith(("_", ".")):
            continue
        uri = str(path.toUri().toString())
        found[uri] = RawObject(uri, str(path.toString()), int(status.getLen()), int(status.getModificationTime()))
    return found


def load_record(spark: SparkSession, path: str) -> dict[str, ProcessedObject]:
    text = read_text(spark, path)
    if not text:
        return {}
    document = json.loads(text)
    return {uri: ProcessedObject(entry["size"], entry["modified_ms"], tuple(entry["dates"]), entry["undated"])
            for uri, entry in document["objects"].items()}


def record_json(record: dict[str, ProcessedObject]) -> str:
    return json.dumps({"version": 1, "objects": {
        uri: {"size": entry.size, "modified_ms": entry.modified_ms, "dates": list(entry.dates),
              "undated": entry.undated} for uri, entry in sorted(record.items())}}, indent=1) + "\n"


def read_objects(spark: SparkSession, objects: Iterable[RawObject], undated: dict[str, str]) -> DataFrame:
    """The rows of `objects`, each with its source object and that object's undated partition."""
    objects = list(objects)
    if not objects:
        return spark.createDataFrame([], RAW_SCHEMA).withColumn(SOURCE_COLUMN, F.lit("")).withColumn(
            UNDATED_COLUMN, F.lit(""))
    mapping = F.create_map(*[item for o in objects for item in (F.lit(o.uri), F.lit(undated[o.uri]))])
    return (read_raw(spark, [o.read_path for o in objects])
            .withColumn(SOURCE_COLUMN, F.input_file_name())
            .withColumn(UNDATED_COLUMN, F.element_at(mapping, F.col(SOURCE_COLUMN))))


def partitions_by_object(typed: DataFrame) -> dict[str, set[str]]:
    """object URI -> the partitions (trade dates, undated-...) its rows fall on."""
    found: dict[str, set[str]] = {}
    for row in typed.select(SOURCE_COLUMN, PARTITION_COLUMN).distinct().collect():
        found.setdefault(row[SOURCE_COLUMN], set()).add(row[PARTITION_COLUMN])
    return found


def conflicting_dates(spark: SparkSession, target_path: str, typed_scope: DataFrame, dates: set[str]) -> set[str]:
    """Trade dates outside `dates` whose curated rows share a trade id with a valid row in scope:
    de-duplication (earliest version wins) must see both, so they join the run."""
    others = [day for day in stored_partitions(spark, target_path) if day not in dates]
    if not others:
        return set()
    base = target_path.rstrip("/")
    curated = (spark.read.schema(f"trade_id string, {PARTITION_COLUMN} string").option("basePath", base)
               .parquet(*(f"{base}/{PARTITION_COLUMN}={day}" for day in others)))   # one column: no data read
    ids = typed_scope.where(F.col("reason").isNull()).select(F.col("t_trade_id").alias("trade_id")).distinct()
    return {row[PARTITION_COLUMN] for row in curated.join(ids, "trade_id").select(PARTITION_COLUMN).distinct().collect()}


def stored_partitions(spark: SparkSession, path: str) -> list[str]:
    """The trade_date values of the partition folders under `path`."""
    hadoop_path, filesystem = _filesystem(spark, path)
    if not filesystem.exists(hadoop_path):
        return []
    prefix = f"{PARTITION_COLUMN}="
    return sorted(str(status.getPath().getName()).removeprefix(prefix) for status in filesystem.listStatus(hadoop_path)
                  if status.isDirectory() and str(status.getPath().getName()).startswith(prefix))


@dataclass(frozen=True)
class Scope:
    mode: str                           # incremental, backfill or idle (nothing new)
    dates: tuple[str, ...]              # the partitions this run rewrites
    objects: tuple[RawObject, ...]      # the raw objects it reads
    new_objects: tuple[str, ...]        # ... of which not processed before (or changed)
    record: dict[str, ProcessedObject]  # the record once the run has finished
    rounds: int                         # reads needed to close the dates over shared trade ids


def plan_scope(spark: SparkSession, args: JobArgs, listing: dict[str, RawObject],
               record: dict[str, ProcessedObject]) -> tuple[Scope, DataFrame | None]:
    """The dates this run rewrites, the objects it reads, and the typed rows of those dates."""
    new = [o for uri, o in sorted(listing.items()) if uri not in record or not record[uri].same_object(o)]
    undated = {uri: (record[uri].undated if uri in record else UNDATED + args.run_day) for uri in listing}
    bounds = (args.first_trade_date, args.last_trade_date)
    updated = dict(record)
    dates: set[str] = set()
    if new:
        seen = partitions_by_object(_typed(read_objects(spark, new, undated), *bounds))
        for o in new:
            if o.uri in record:                 # a changed object: its old dates are redone too
                dates |= set(record[o.uri].dates)
            dates |= seen.get(o.uri, set())
            updated[o.uri] = ProcessedObject(o.size, o.modified_ms, tuple(sorted(seen.get(o.uri, set()))),
                                             undated[o.uri])
    if args.backfill:
        # New objects are read too (their rows of these dates belong there), but they stay new:
        # the next incremental run processes them, and their other dates, as usual.
        updated = dict(record)
        dates = ({d for entry in record.values() for d in entry.dates} if args.backfill == ("all",)
                 else set(args.backfill))
    mode = "backfill" if args.backfill else ("incremental" if new else "idle")
    if not dates:
        return Scope(mode, (), (), tuple(o.uri for o in new), updated, 0), None
    rounds = 0
    while True:
        rounds += 1
        chosen = [o for uri, o in sorted(listing.items())
                  if (o in new) or (uri in updated and set(updated[uri].dates) & dates)]
        typed = (_typed(read_objects(spark, chosen, undated), *bounds)
                 .where(F.col(PARTITION_COLUMN).isin(sorted(dates))).persist())   # read once for all that follows
        more = conflicting_dates(spark, args.target_path, typed, dates)
        if not more:
            return Scope(mode, tuple(sorted(dates)), tuple(chosen), tuple(o.uri for o in new), updated, rounds), typed
        typed.unpersist()
        dates |= more


# --- the load manifest -----------------------------------------------------------------

def list_partition_files(spark: SparkSession, path: str, dates: Iterable[str]) -> list[tuple[str, int]]:
    """(URI, bytes) of the Parquet files in these partitions of `path`."""
    files = []
    for day in dates:
        hadoop_path, filesystem = _filesystem(spark, f"{path.rstrip('/')}/{PARTITION_COLUMN}={day}")
        if not filesystem.exists(hadoop_path):
            continue
        for status in filesystem.listStatus(hadoop_path):
            name = status.getPath().getName()
            if status.isFile() and not name.startswith(("_", ".")):
                files.append((str(status.getPath().toUri().toString()), int(status.getLen())))
    return sorted(files)


def copy_manifest(files: Sequence[tuple[str, int]]) -> str:
    """A Redshift COPY manifest; COPY from Parquet needs each file's content_length."""
    return json.dumps({"entries": [{"url": url, "mandatory": True, "meta": {"content_length": size}}
                                   for url, size in files]}, indent=1) + "\n"


# --- the job ---------------------------------------------------------------------------

def configure_session(spark: SparkSession) -> None:
    # trade_date is the UTC calendar day of trade_ts; Glue's default is UTC too, but say so.
    spark.conf.set("spark.sql.session.timeZone", "UTC")


def main(argv: Sequence[str] | None = None, spark: SparkSession | None = None) -> dict[str, Any]:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    spark = spark or SparkSession.builder.appName(args.job_name).getOrCreate()
    configure_session(spark)

    record = load_record(spark, args.state_path)
    scope, typed = plan_scope(spark, args, list_raw_objects(spark, args.source_path), record)
    tally = Tally({}, 0, {}, ())
    rows_read = 0
    if typed is not None:
        rows_read = typed.count()                # the source rows of the run's dates
        classified = classify_typed(typed).persist()
        try:
            tally = Tally.of([(r["disposition"], r["reason"], r[PARTITION_COLUMN], r["count"]) for r in
                              classified.groupBy("disposition", "reason", PARTITION_COLUMN).count().collect()])
            check_tally(rows_read, tally)                       # raises before anything is written
            write_rows(*split_trades(classified), args)
        finally:
            classified.unpersist()
            typed.unpersist()
        # A date of this run that no longer has rows of a kind is cleared, not left stale.
        for day in set(scope.dates) - set(tally.written_by_trade_date):
            delete_folder(spark, f"{args.target_path.rstrip('/')}/{PARTITION_COLUMN}={day}")
        for day in set(scope.dates) - set(tally.rejected_trade_dates):
            delete_folder(spark, f"{args.rejected_path.rstrip('/')}/{PARTITION_COLUMN}={day}")

    # Read back what was written, so the summary compares what is stored with the tally.
    summary = build_summary(
        args, rows_read, tally,
        rows_written=count_stored(spark, args.target_path, tally.written_by_trade_date),
        rows_rejected=count_stored(spark, args.rejected_path, tally.rejected_trade_dates))
    summary.update({"mode": scope.mode, "dates_processed": list(scope.dates),
                    "objects_new": len(scope.new_objects), "objects_read": len(scope.objects),
                    "scope_rounds": scope.rounds, "manifest_path": args.manifest_path})
    try:
        check_invariant(summary)
    except QualityInvariantError as error:
        message = (f"{error}. This run wrote {args.target_path}"
                   f" ({', '.join(_partitions(tally.written_by_trade_date)) or 'no partition'}) and"
                   f" {args.rejected_path} ({', '.join(_partitions(tally.rejected_trade_dates)) or 'no partition'}),"
                   f" which do not hold what it tallied; the summary {args.summary_path} was not written."
                   f" Check them before the warehouse loads them.")
        log.error("trades_etl quality invariant failed: %s", message)
        raise QualityInvariantError(message) from error
    write_text(spark, args.manifest_path,
               copy_manifest(list_partition_files(spark, args.target_path, tally.written_by_trade_date)))
    if scope.mode != "backfill":
        write_text(spark, args.state_path, record_json(scope.record))   # the new objects are done
    write_text(spark, args.summary_path, json.dumps(summary, indent=2) + "\n")   # last: the run finished
    log.info("trades_etl summary: %s", json.dumps(summary))
    return summary


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    main()
