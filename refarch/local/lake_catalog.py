"""The curated lake's tables as its Glue Data Catalog declares them, which both of the lake's
readers see: Athena (BatchDataLake) and Redshift Spectrum (RedshiftWarehouse). trade_date is a
partition column (from the folder names), a string as in the Glue table."""

from __future__ import annotations

TRADES_COLUMNS = {"trade_id": "VARCHAR", "symbol": "VARCHAR", "side": "VARCHAR", "quantity": "BIGINT",
                  "price": "DECIMAL(18, 4)", "trade_ts": "TIMESTAMP", "trade_date": "VARCHAR"}
REJECTED_COLUMNS = {"trade_id": "VARCHAR", "symbol": "VARCHAR", "side": "VARCHAR", "quantity": "VARCHAR",
                    "price": "VARCHAR", "trade_ts": "VARCHAR", "malformed_record": "VARCHAR",
                    "reason": "VARCHAR", "trade_date": "VARCHAR"}
# table -> (its prefix in the curated bucket, its declared columns)
LAKE_TABLES = {"trades": ("trades/", TRADES_COLUMNS), "trades_rejected": ("trades_rejected/", REJECTED_COLUMNS)}
