"""Where the project's non-Python assets live (Lambda code, jobs, SQL)."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LAMBDA_ROOT = PROJECT_ROOT / "lambda"
JOBS_ROOT = PROJECT_ROOT / "jobs"
FLINK_ROOT = JOBS_ROOT / "flink"   # main.py, the entry point of every job folder beside it
SQL_ROOT = PROJECT_ROOT / "sql"
# Fetched by `make flink-deps` (not on PyPI or npm); not committed.
FLINK_CONNECTOR_JAR = FLINK_ROOT / "lib" / "flink-sql-connector-kinesis-5.0.0-1.20.jar"
