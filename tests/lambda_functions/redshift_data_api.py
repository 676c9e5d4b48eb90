"""botocore Stubber helpers for the two functions of lambda/redshift_loader (the loader and the
setup): each expected Data API call carries the exact parameters it must be sent with, the
database user included, so a call as the wrong user, or with other SQL, fails the test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import ModuleType

import boto3
from botocore.stub import Stubber

WHEN = datetime(2024, 5, 4, 4, 0, tzinfo=timezone.utc)
BATCH_ID = "d9b6c0c9-0747-4bf4-b142-e8883122f766"


@dataclass(frozen=True)
class Connection:
    """Who the statements must run as, and the StatementName prefix they must carry."""
    cluster_id: str
    database: str
    db_user: str
    statement_name: str


@dataclass
class FakeContext:
    remaining_ms: int = 900_000
    function_name: str = "refarch-redshift"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:refarch-redshift"
    aws_request_id: str = "0c6b3f8e-0000-4000-8000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@dataclass
class FakeTime:
    """A clock that only moves when the function sleeps."""
    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def statement_id(name: str, *, guard: bool = False) -> str:
    """The id Redshift gives a file's ExecuteStatement (or its skip-if guard's)."""
    return f"5e7c1a2b-0000-4000-{'9' if guard else '8'}000-{int(name[:2]):012d}"


def expect_execute(stubber: Stubber, conn: Connection, name: str, sql: str, *, guard: bool = False) -> None:
    suffix = ":skip-if" if guard else ""
    stubber.add_response(
        "execute_statement",
        {"Id": statement_id(name, guard=guard), "CreatedAt": WHEN, "ClusterIdentifier": conn.cluster_id,
         "Database": conn.database, "DbUser": conn.db_user},
        {"ClusterIdentifier": conn.cluster_id, "Database": conn.database, "DbUser": conn.db_user,
         "Sql": sql, "StatementName": f"{conn.statement_name}:{name}{suffix}"})


def expect_describe(stubber: Stubber, conn: Connection, status: str, subs: list[dict] | None = None,
                    error: str | None = None, *, of: str = BATCH_ID, extra: dict | None = None) -> None:
    response = {"Id": of, "Status": status, "CreatedAt": WHEN, "UpdatedAt": WHEN,
                "ClusterIdentifier": conn.cluster_id, "Database": conn.database, **(extra or {})}
    if subs is not None:
        response["SubStatements"] = subs
        response["Duration"] = sum(sub.get("Duration", 0) for sub in subs)
    if error:
        response["Error"] = error
    stubber.add_response("describe_statement", response, {"Id": of})


def expect_statement(stubber: Stubber, conn: Connection, name: str, sql: str, status: str = "FINISHED", *,
                     polls: int = 1, error: str | None = None) -> None:
    """One statement on its own: ExecuteStatement, then DescribeStatement `polls` times (STARTED
    until the last, which reports `status`)."""
    expect_execute(stubber, conn, name, sql)
    for _ in range(polls - 1):
        expect_describe(stubber, conn, "STARTED", of=statement_id(name))
    extra = {}
    if status == "FINISHED":
        extra = {"Duration": int(name[:2]) * 1_000_000, "ResultRows": -1, "RedshiftQueryId": 6000 + int(name[:2])}
    expect_describe(stubber, conn, status, error=error, of=statement_id(name), extra=extra)


def expect_guard(stubber: Stubber, conn: Connection, name: str, sql: str, *, rows: int) -> None:
    """A skip-if guard: ExecuteStatement of its SELECT, DescribeStatement, GetStatementResult with
    `rows` rows (a row: the statement is skipped)."""
    expect_execute(stubber, conn, name, sql, guard=True)
    expect_describe(stubber, conn, "FINISHED", of=statement_id(name, guard=True),
                    extra={"HasResultSet": True, "ResultRows": rows})
    stubber.add_response("get_statement_result",
                         {"Records": [[{"longValue": 1}] for _ in range(rows)], "TotalNumRows": rows,
                          "ColumnMetadata": [{"name": "?column?", "typeName": "int4"}]},
                         {"Id": statement_id(name, guard=True)})


def expect_batch(stubber: Stubber, conn: Connection, sqls: list[str]) -> None:
    stubber.add_response(
        "batch_execute_statement",
        {"Id": BATCH_ID, "CreatedAt": WHEN, "ClusterIdentifier": conn.cluster_id, "Database": conn.database,
         "DbUser": conn.db_user},
        {"ClusterIdentifier": conn.cluster_id, "Database": conn.database, "DbUser": conn.db_user,
         "Sqls": sqls, "StatementName": conn.statement_name})


def sub(index: int, status: str = "FINISHED", *, rows: int = 0, error: str | None = None) -> dict:
    item = {"Id": f"{BATCH_ID}:{index}", "Status": status, "CreatedAt": WHEN, "UpdatedAt": WHEN}
    if status in ("FINISHED", "FAILED"):
        item.update(Duration=(index * 1_500_000), ResultRows=rows, RedshiftQueryId=7000 + index)
    if error:
        item["Error"] = error
    return item


def finished(names: list[str], rows: dict[str, int] | None = None) -> list[dict]:
    return [sub(i, rows=(rows or {}).get(name, -1)) for i, name in enumerate(names, start=1)]


def stubbed_data_api(monkeypatch, function: ModuleType) -> Iterator[Stubber]:
    """A Data API client with a Stubber, handed to `function` (its `data_api_client`); the stubber's
    `calls` lists the operations made, in order. For a fixture: every expected call must be made."""
    client = boto3.client("redshift-data", region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    calls: list[str] = []
    client.meta.events.register("before-parameter-build.redshift-data.*",
                                lambda model, **_: calls.append(model.name))
    with Stubber(client) as stubber:
        stubber.calls = calls
        monkeypatch.setattr(function, "data_api_client", lambda: client)
        yield stubber
        stubber.assert_no_pending_responses()


def fake_time_for(monkeypatch, function: ModuleType) -> FakeTime:
    """`function`'s clock and sleep replaced by one FakeTime."""
    fake = FakeTime()
    monkeypatch.setattr(function, "clock", fake.clock)
    monkeypatch.setattr(function, "sleep", fake.sleep)
    return fake
