"""Seeded raw trade CSV as the trading systems deliver it to the lake's raw zone.

Besides the valid trades (over DAYS UTC days, in local offsets that sometimes put a trade on
another calendar day than its UTC trade_date) it injects, each counted in `Injected`:
re-deliveries of a trade (the same values, possibly formatted differently), later versions of a
kept trade with other values, and bad rows of every reason the Glue job rejects a row for.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

HEADER = ("trade_id", "symbol", "side", "quantity", "price", "trade_ts")

# The reasons the job rejects a row for (jobs/glue/trades_etl.py REASONS), all injected.
REJECT_REASONS = ("malformed_row", "missing_trade_id", "bad_trade_id", "bad_symbol", "bad_side",
                  "bad_quantity", "bad_price", "bad_timestamp", "timestamp_out_of_range", "duplicate_trade_id")
MIN_ROWS = 2 * len(REJECT_REASONS) + 2     # a row of each reason, and trades to duplicate

SYMBOLS = {"AAPL": 190, "MSFT": 410, "AMZN": 180, "BRK.B": 405, "NVDA": 880, "JPM": 195, "XOM": 115}
START = datetime(2024, 5, 1, tzinfo=UTC)   # fixed, so a seeded run is reproducible
DAYS = 3
# Local offsets the trading systems report in; with -05:00 and +05:30 some trades carry a local
# calendar day other than their UTC trade_date.
ZONES = (timedelta(0), timedelta(hours=2), timedelta(hours=-5), timedelta(hours=5, minutes=30))
DUPLICATE_RATE = 0.04     # re-deliveries of a trade (same values, possibly formatted differently)
REJECT_RATE = 0.01        # per reason; at least one row of each reason

# How a bad row differs from a good one: (field, raw values that must fail exactly that check).
BAD_VALUES: dict[str, tuple[str, tuple[str, ...]]] = {
    "missing_trade_id": ("trade_id", ("", "   ")),
    # over the warehouse's VARCHAR(64) (in bytes: the accented one is 36 characters, 66 bytes), or a control character
    "bad_trade_id": ("trade_id", ("X" * 65, "TRADE-" + "\u00e9" * 30, "TAB\t1", "NUL\x001", "\x1b[31mESC",
                                  "DEL\x7f")),
    "bad_symbol": ("symbol", ("", "TOOLONGSYMB", "BRK/B", "A1")),
    "bad_side": ("side", ("", "HOLD", "B", "short")),
    "bad_quantity": ("quantity", ("", "0", "-10", "1.5", "12a", "1e3")),
    "bad_price": ("price", ("", "0", "-1.25", "abc", "12.34567", "0.0000")),
    "bad_timestamp": ("trade_ts", ("", "2024-05-01 10:00:00", "2024-05-01T10:00:00", "2024-02-30T10:00:00Z",
                                   "2024-05-01T25:00:00Z", "yesterday", "1714557600")),
    # real instants, but before the first trade date (2024-01-01) or after the day following the run
    "timestamp_out_of_range": ("trade_ts", ("2023-12-31T23:59:59Z", "1999-01-01T00:00:00Z",
                                            "2024-05-10T00:00:00+02:00", "2099-01-01T00:00:00Z")),
}


@dataclass(frozen=True)
class Trade:
    trade_id: str
    symbol: str
    side: str
    quantity: int
    price: Decimal
    trade_ts: datetime      # UTC

    @property
    def trade_date(self) -> str:
        return self.trade_ts.strftime("%Y-%m-%d")


@dataclass(frozen=True)
class Injected:
    """What the generator put into the raw CSV, by kind: the truth a run is compared with."""
    trades: int                           # distinct valid trades: the curated rows
    duplicates: int                       # re-deliveries of one of those trades
    rejected_by_reason: dict[str, int]
    trade_dates: tuple[str, ...]          # UTC dates of the trades: the curated partitions
    volume: int                           # sum of quantity over the trades
    notional: Decimal                     # sum of price * quantity over the trades

    @property
    def rows(self) -> int:
        return self.trades + self.duplicates + sum(self.rejected_by_reason.values())


@dataclass(frozen=True)
class RawTrades:
    files: dict[str, str]                 # relative path -> CSV text (with header)
    trades: tuple[Trade, ...]             # the valid trades, one per trade_id
    injected: Injected


def generate_trades(rows: int, *, seed: int = 11) -> RawTrades:
    """`rows` raw CSV rows (excluding headers) in two files, seeded."""
    if rows < MIN_ROWS:
        raise ValueError(f"rows={rows}: allowed {MIN_ROWS} to 1000000")
    rng = random.Random(seed)
    per_reason = max(1, round(rows * REJECT_RATE))
    duplicates = max(1, round(rows * DUPLICATE_RATE))
    trade_count = rows - duplicates - per_reason * len(REJECT_REASONS)
    if trade_count < per_reason + 1:
        raise ValueError(f"rows={rows}: too few rows for the injected duplicates and rejects")

    serial = iter(range(1, 10_000_000))
    trades = [_trade(rng, next(serial)) for _ in range(trade_count)]
    lines: list[list[str]] = [_render(rng, trade) for trade in trades]
    for _ in range(duplicates):                    # a re-delivery, maybe formatted differently
        lines.append(_render(rng, rng.choice(trades), reformat=True))
    for trade in rng.sample(trades, per_reason):   # a later, different version of a kept trade
        lines.append(_render(rng, Trade(trade.trade_id, trade.symbol, trade.side, trade.quantity,
                                        trade.price + Decimal("0.01"),
                                        trade.trade_ts + timedelta(seconds=rng.randint(1, 600)))))
    for reason in REJECT_REASONS[:-1]:
        for _ in range(per_reason):
            line = _render(rng, _trade(rng, next(serial)))
            if reason == "malformed_row":
                line = line[:-1] if rng.random() < 0.5 else [*line, "EXTRA"]
            else:
                column, values = BAD_VALUES[reason]
                line[HEADER.index(column)] = rng.choice(values)
            lines.append(line)
    rng.shuffle(lines)

    half = len(lines) // 2
    files = {"batch=1/trades.csv": _csv(lines[:half]), "batch=2/trades.csv": _csv(lines[half:])}
    injected = Injected(
        trades=trade_count, duplicates=duplicates,
        rejected_by_reason={reason: per_reason for reason in sorted(REJECT_REASONS)},
        trade_dates=tuple(sorted({t.trade_date for t in trades})),
        volume=sum(t.quantity for t in trades),
        notional=sum((t.price * t.quantity for t in trades), Decimal(0)))
    return RawTrades(files, tuple(trades), injected)


def _trade(rng: random.Random, serial: int) -> Trade:
    symbol = rng.choice(sorted(SYMBOLS))
    price = Decimal(SYMBOLS[symbol]) * Decimal(str(round(rng.uniform(0.95, 1.05), 4)))
    cents = 4 if rng.random() < 0.1 else 2
    seconds = rng.randrange(DAYS * 86_400)
    millis = rng.randrange(1000) if rng.random() < 0.2 else 0
    return Trade(f"T{serial:07d}", symbol, rng.choice(("BUY", "SELL")), rng.randint(1, 1_000),
                 price.quantize(Decimal(1).scaleb(-cents)),
                 START + timedelta(seconds=seconds, milliseconds=millis))


def _render(rng: random.Random, trade: Trade, *, reformat: bool = False) -> list[str]:
    """The raw CSV fields of a trade; `reformat` writes the same values another way
    (case, padding, trailing zeros, another UTC offset), as a second system would."""
    zone = rng.choice(ZONES)
    local = trade.trade_ts.astimezone(timezone(zone))
    timespec = "milliseconds" if trade.trade_ts.microsecond or (reformat and rng.random() < 0.5) else "seconds"
    ts = local.isoformat(timespec=timespec)
    if zone == timedelta(0) and rng.random() < 0.5:
        ts = ts.replace("+00:00", "Z")
    fields = [trade.trade_id, trade.symbol, trade.side, str(trade.quantity), str(trade.price), ts]
    if reformat:
        decimals = -trade.price.as_tuple().exponent
        fields[1] = trade.symbol.lower() if rng.random() < 0.3 else trade.symbol
        fields[2] = trade.side.lower() if rng.random() < 0.3 else trade.side
        fields[3] = f" {trade.quantity} " if rng.random() < 0.3 else fields[3]
        fields[4] = f"{trade.price:.{rng.randint(decimals, 4)}f}"
    return fields


def _csv(lines: list[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(lines)
    return buffer.getvalue()
