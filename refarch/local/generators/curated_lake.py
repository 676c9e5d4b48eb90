"""A seeded curated lake, shaped as the Glue job writes it: the input of a warehouse run that does
not start from a BatchDataLake run. Written with pyarrow (no Spark): trades/trade_date=.../ with
INT96 timestamps and trade_date only in the folder names, rejected rows in trades_rejected/, a
_SUCCESS marker in each; `SampleLake` says what was written."""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from refarch.local.generators.trades import REJECT_REASONS, START, SYMBOLS

DAYS = 3


@dataclass(frozen=True)
class SampleLake:
    """What write_sample_lake put on disk: the truth a run is compared with."""
    root: Path
    trades: int
    volume: int
    notional: Decimal
    trade_dates: tuple[str, ...]
    rejected: int
    rejected_by_reason: dict[str, int]


def write_sample_lake(root: Path, rows: int = 500, *, seed: int = 13) -> SampleLake:
    """A curated lake shaped like the Glue job's output, under `root` (the curated bucket):
    `rows` trades over DAYS UTC dates in trades/trade_date=.../ (six columns, INT96 trade_ts,
    decimal(18,4) price) and rejected rows in trades_rejected/ (all strings, with a reason;
    no usable timestamp -> Spark's null partition). Seeded: the same seed writes the same lake."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not 1 <= rows <= 1_000_000:
        raise ValueError(f"rows={rows}: allowed 1 to 1000000")
    rng = random.Random(seed)
    root = Path(root)
    for owned in ("trades", "trades_rejected"):
        shutil.rmtree(root / owned, ignore_errors=True)

    by_date: dict[str, list[tuple]] = {}
    volume, notional = 0, Decimal(0)
    for serial in range(1, rows + 1):
        symbol = rng.choice(sorted(SYMBOLS))
        price = (Decimal(SYMBOLS[symbol]) * Decimal(str(round(rng.uniform(0.95, 1.05), 4)))).quantize(Decimal("0.0001"))
        quantity = rng.randint(1, 1_000)
        ts = START.replace(tzinfo=None) + timedelta(seconds=rng.randrange(DAYS * 86_400),
                                                    milliseconds=rng.choice((0, 0, 0, rng.randrange(1000))))
        by_date.setdefault(ts.strftime("%Y-%m-%d"), []).append(
            (f"W{seed:03d}{serial:07d}", symbol, rng.choice(("BUY", "SELL")), quantity, price, ts))
        volume += quantity
        notional += price * quantity
    schema = pa.schema([("trade_id", pa.string()), ("symbol", pa.string()), ("side", pa.string()),
                        ("quantity", pa.int64()), ("price", pa.decimal128(18, 4)), ("trade_ts", pa.timestamp("us"))])
    for day, trades in sorted(by_date.items()):
        trades.sort(key=lambda t: (t[1], t[5], t[0]))             # the job sorts by symbol, trade_ts, trade_id
        folder = root / "trades" / f"trade_date={day}"
        folder.mkdir(parents=True)
        table = pa.Table.from_pylist([dict(zip(schema.names, t)) for t in trades], schema=schema)
        pq.write_table(table, folder / f"part-00000-seed{seed}.c000.snappy.parquet",
                       compression="snappy", use_deprecated_int96_timestamps=True)   # as Spark writes timestamps
    (root / "trades" / "_SUCCESS").write_bytes(b"")

    rejected_rows: dict[str | None, list[dict]] = {}
    reasons: dict[str, int] = {}
    count = max(len(REJECT_REASONS), rows // 40)
    days = sorted(by_date)
    for serial in range(1, count + 1):
        reason = REJECT_REASONS[(serial - 1) % len(REJECT_REASONS)]
        symbol = rng.choice(sorted(SYMBOLS))
        row = {"trade_id": f"R{seed:03d}{serial:06d}", "symbol": rng.choice((symbol, f" {symbol.lower()} ")),
               "side": "BUY", "quantity": "10", "price": "100.00",
               "trade_ts": f"{rng.choice(days)}T12:00:00Z", "malformed_record": None, "reason": reason}
        if reason == "bad_symbol":
            row["symbol"] = rng.choice(("BRK/B", "TOOLONGSYMB", ""))
        elif reason == "missing_trade_id":
            row["trade_id"] = ""
        elif reason == "malformed_row":
            row.update({name: None for name in ("trade_id", "symbol", "side", "quantity", "price", "trade_ts")},
                       malformed_record="garbage,line")
        elif reason == "bad_timestamp":
            row["trade_ts"] = "yesterday"
        day = row["trade_ts"][:10] if row["trade_ts"] and row["trade_ts"][:4].isdigit() else None
        rejected_rows.setdefault(day, []).append(row)
        reasons[reason] = reasons.get(reason, 0) + 1
    string_schema = pa.schema([(name, pa.string()) for name in ("trade_id", "symbol", "side", "quantity", "price",
                                                                 "trade_ts", "malformed_record", "reason")])
    for day, items in rejected_rows.items():
        folder = root / "trades_rejected" / f"trade_date={day or '__HIVE_DEFAULT_PARTITION__'}"
        folder.mkdir(parents=True)
        pq.write_table(pa.Table.from_pylist(items, schema=string_schema),
                       folder / f"part-00000-seed{seed}.c000.snappy.parquet")
    (root / "trades_rejected" / "_SUCCESS").write_bytes(b"")

    return SampleLake(root=root, trades=rows, volume=volume, notional=notional, trade_dates=tuple(days),
                      rejected=count, rejected_by_reason=dict(sorted(reasons.items())))
