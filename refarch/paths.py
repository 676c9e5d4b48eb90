"""Where the project's non-Python assets live (Lambda code, jobs, SQL)."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LAMBDA_ROOT = PROJECT_ROOT / "lambda"
JOBS_ROOT = PROJECT_ROOT / "jobs"
SQL_ROOT = PROJECT_ROOT / "sql"
