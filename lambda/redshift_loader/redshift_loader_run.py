"""Run the warehouse's statements through the Redshift Data API and wait for the outcome, in two phases.

Setup (sql/setup/: schemas, tables, the Spectrum external schema, the loader's user and grants;
the setup function sends them, as the admin) runs ONE STATEMENT AT A TIME with ExecuteStatement,
so Redshift commits each on its own. Not every Redshift statement may run inside a transaction
block (external DDL is the documented risk), and a run that wrapped them in one would fail on it.
Every setup statement is idempotent (IF NOT EXISTS, a GRANT, or a skip-if guard: the guard's
SELECT is sent first, and a row back means the statement is skipped), so the statements a failed
run committed are simply repeated, or skipped, by the next one. Each is waited for before the
next is sent; after a failure nothing more is sent.

Load (sql/load/: the symbols dimension refresh and the trades reload) goes to Redshift in ONE
BatchExecuteStatement call, which runs its statements in order as a single transaction. That is
what makes the reload safe to run and to re-run: deleting the dimension rows or the trade dates
being reloaded and inserting them again commit together, so readers never see a day (or a
symbol) missing, and a failure anywhere (a bad file in the lake, a lost role, a timeout we
cancel) rolls the whole reload back instead of leaving a half-loaded table. (BatchExecuteStatement
also has an AUTO_COMMIT mode; it is not used for setup because a failed statement would not stop
the ones after it.)

Every call is asynchronous: DescribeStatement is polled with a growing interval until the
statement or batch is FINISHED, FAILED or ABORTED, but never past `deadline` (the handler derives
it from the Lambda's remaining time); one deadline covers both phases. Whatever is still running
at the deadline is cancelled, which rolls it back, and LoadTimeout is raised: the invocation
fails, and a retry starts from a clean state rather than racing the first run. `clock` and
`sleep` are injected so tests control time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from redshift_loader_sql import LOAD, SETUP, Statement, phase_statements

TERMINAL = ("FINISHED", "FAILED", "ABORTED")
SKIPPED = "SKIPPED"               # a statement whose skip-if guard returned a row: not sent
STATEMENT_NAME = "refarch-redshift-loader"   # the load batch; a setup statement adds ":<file name>"
DB_USER_NAME = re.compile(r"[a-z_][a-z0-9_$]{0,126}")
# Time kept back from the Lambda's remaining time to cancel a running statement or batch and report.
SAFETY_MARGIN_SECONDS = 15.0
MAX_STATEMENTS = 40               # BatchExecuteStatement accepts 1 to 40 SQL statements
FIRST_POLL_SECONDS = 1.0
MAX_POLL_SECONDS = 10.0


class LoadError(RuntimeError):
    """The load did not complete; the message says which statement and why."""


class StatementFailed(LoadError):
    """Redshift reported a statement FAILED or ABORTED."""

    def __init__(self, message: str, *, name: str | None, redshift_error: str) -> None:
        super().__init__(message)
        self.name = name
        self.redshift_error = redshift_error


class LoadTimeout(LoadError, TimeoutError):
    """A statement or the batch did not finish before the deadline; it was cancelled (rolled back)."""


class ConfigError(LoadError, ValueError):
    """The environment or the event cannot be used; the message names the variable or field."""


@dataclass(frozen=True)
class Target:
    """Where the statements run: a provisioned cluster, as a database user whose temporary
    credentials the Data API gets for each call (GetClusterCredentials)."""
    cluster_id: str
    database: str
    db_user: str


def db_user_problem(name: str, value: str) -> str | None:
    """Why `value` (of the setting `name`) is not a plain Redshift user name, or None."""
    if DB_USER_NAME.fullmatch(value):
        return None
    return (f"{name}={value!r}: expected a Redshift user name (lower-case letters, digits, _ or $, starting"
            " with a letter or _, at most 127 characters)")


def load_target(environ: Mapping[str, str]) -> Target:
    """The cluster, database and database user from CLUSTER_ID, DATABASE and DB_USER."""
    def required(name: str, meaning: str) -> str:
        value = environ.get(name, "").strip()
        if not value:
            raise ConfigError(f"environment variable {name} is not set: expected {meaning}")
        return value

    cluster_id = required("CLUSTER_ID", "the Redshift cluster identifier")
    database = required("DATABASE", "the database name")
    db_user = required("DB_USER", "the database user to run the statements as")
    problem = db_user_problem("DB_USER", db_user)
    if problem:
        raise ConfigError(problem)
    return Target(cluster_id=cluster_id, database=database, db_user=db_user)


@dataclass(frozen=True)
class StatementOutcome:
    phase: str                      # SETUP (its own ExecuteStatement) or LOAD (a sub-statement of the batch)
    name: str
    id: str
    status: str
    duration_ms: float | None       # Redshift's own duration (DescribeStatement Duration, ns)
    rows: int | None                # rows affected / loaded (ResultRows; None where Redshift reports -1)
    redshift_query_id: int | None

    def as_dict(self) -> dict[str, Any]:
        return {"phase": self.phase, "name": self.name, "id": self.id, "status": self.status,
                "duration_ms": self.duration_ms, "rows": self.rows, "redshift_query_id": self.redshift_query_id}


@dataclass(frozen=True)
class LoadResult:
    batch_id: str | None            # the load batch; None when an event asked for setup statements only
    status: str
    statements: tuple[StatementOutcome, ...]   # in run order: setup, then load
    waited_seconds: float
    polls: int

    def as_dict(self) -> dict[str, Any]:
        return {"batch_id": self.batch_id, "status": self.status, "waited_seconds": round(self.waited_seconds, 3),
                "polls": self.polls, "statements": [outcome.as_dict() for outcome in self.statements]}


@dataclass(frozen=True)
class Timing:
    """How long the run may take, and the clock it is measured with (injected: tests control time)."""
    deadline: float                 # a clock() reading; polling stops before it
    clock: Callable[[], float]
    sleep: Callable[[float], None]


def run_phases(client, target: Target, statements: Sequence[Statement], *, timing: Timing, log=None,
               statement_name: str = STATEMENT_NAME) -> LoadResult:
    """Run `statements` (in run order): the setup ones one by one, then the load ones as one batch.
    `statement_name` names them in Redshift's query history (the batch; a setup statement adds
    ":<file name>").

    Returns every statement's outcome; raises StatementFailed (naming the file and quoting
    Redshift's error, and saying what was committed and what was not run) or LoadTimeout.
    """
    setup, load = phase_statements(statements, SETUP), phase_statements(statements, LOAD)
    if not setup and not load:
        raise LoadError("no statements to run")
    if len(load) > MAX_STATEMENTS:      # refused before anything runs, setup included
        raise LoadError(f"{len(load)} load statements: BatchExecuteStatement takes at most {MAX_STATEMENTS}")
    started = timing.clock()
    outcomes: list[StatementOutcome] = []
    polls = 0
    for position, statement in enumerate(setup):
        later = [s.name for s in setup[position + 1:]] + [s.name for s in load]
        aftermath = _setup_aftermath([o.name for o in outcomes], later)
        outcome, used = run_statement(client, target, statement, timing=timing, aftermath=aftermath, log=log,
                                      statement_name=statement_name)
        outcomes.append(outcome)
        polls += used
    batch_id = None
    if load:
        setup_note = f"; setup ({', '.join(o.name for o in outcomes)}) had committed (idempotent)" if outcomes else ""
        batch_id, batch, used = run_batch(client, target, load, timing=timing, aftermath=setup_note, log=log,
                                          statement_name=statement_name)
        outcomes.extend(batch)
        polls += used
    waited = timing.clock() - started
    _log(log, "info", "load finished", batch_id=batch_id, statements=len(outcomes), polls=polls,
         waited_seconds=round(waited, 3))
    return LoadResult(batch_id, "FINISHED", tuple(outcomes), waited, polls)


def run_statement(client, target: Target, statement: Statement, *, timing: Timing, aftermath: str = "",
                  log=None, statement_name: str = STATEMENT_NAME) -> tuple[StatementOutcome, int]:
    """Submit one statement with ExecuteStatement (Redshift commits it on its own) and wait for it;
    when it has a skip-if guard, the guard first (a row back: the statement is not sent, SKIPPED).
    `aftermath` is appended to a failure or timeout: what the run had committed and left undone."""
    polls = 0
    if statement.guard:
        guard_id, skip, polls = _guard_returns_a_row(client, target, statement, timing=timing, aftermath=aftermath,
                                                     log=log, statement_name=statement_name)
        if skip:
            outcome = StatementOutcome(statement.phase, statement.name, guard_id, SKIPPED, None, None, None)
            _log_outcome(log, outcome)
            return outcome, polls
    outcome, used = _execute(client, target, statement.phase, statement.name, statement.sql, timing=timing,
                             aftermath=aftermath, log=log, statement_name=f"{statement_name}:{statement.name}")
    _log_outcome(log, outcome)
    return outcome, polls + used


def _guard_returns_a_row(client, target: Target, statement: Statement, *, timing: Timing, aftermath: str, log,
                         statement_name: str) -> tuple[str, bool, int]:
    """Run `statement`'s skip-if guard; (its id, whether it returned a row, polls)."""
    outcome, polls = _execute(client, target, statement.phase, f"{statement.name} (skip-if guard)", statement.guard,
                              timing=timing, aftermath=aftermath, log=log,
                              statement_name=f"{statement_name}:{statement.name}:skip-if")
    records = client.get_statement_result(Id=outcome.id).get("Records") or []
    _log(log, "info", "guard evaluated", statement=statement.name, statement_id=outcome.id, skip=bool(records))
    return outcome.id, bool(records), polls


def _execute(client, target: Target, phase: str, name: str, sql: str, *, timing: Timing, aftermath: str, log,
             statement_name: str) -> tuple[StatementOutcome, int]:
    """ExecuteStatement `sql` and wait for it; raises StatementFailed unless it FINISHED."""
    _require_time(timing, name, aftermath)
    response = client.execute_statement(
        ClusterIdentifier=target.cluster_id, Database=target.database, DbUser=target.db_user,
        Sql=sql, StatementName=statement_name)
    statement_id = response["Id"]
    _log(log, "info", "statement submitted", phase=phase, statement=name, statement_id=statement_id)
    description, polls = _wait(client, statement_id, f"Redshift statement {statement_id} ({name})",
                               cancelled=f"it was cancelled, so it was rolled back{aftermath}",
                               timing=timing, log=log)
    outcome = _outcome(phase, name, description, default_id=statement_id)
    if outcome.status != "FINISHED":
        error = description.get("Error") or f"status {outcome.status}, no error message"
        verb = "failed" if outcome.status == "FAILED" else "was aborted"
        file_name, _, guard = name.partition(" ")
        raise StatementFailed(f"Redshift statement {file_name}.sql{' ' + guard if guard else ''} ({statement_id})"
                              f" {verb}: {error}{aftermath}", name=file_name, redshift_error=error)
    return outcome, polls


def run_batch(client, target: Target, statements: Sequence[Statement], *, timing: Timing, aftermath: str = "",
              log=None, statement_name: str = STATEMENT_NAME) -> tuple[str, tuple[StatementOutcome, ...], int]:
    """Submit `statements` as one transaction (BatchExecuteStatement) and wait for it.
    Returns (batch id, each statement's outcome, polls)."""
    if not statements:
        raise LoadError("no statements to run")
    if len(statements) > MAX_STATEMENTS:
        raise LoadError(f"{len(statements)} statements: BatchExecuteStatement takes at most {MAX_STATEMENTS}")
    names = [statement.name for statement in statements]
    _require_time(timing, ", ".join(names), aftermath)
    response = client.batch_execute_statement(
        ClusterIdentifier=target.cluster_id, Database=target.database, DbUser=target.db_user,
        Sqls=[statement.sql for statement in statements], StatementName=statement_name)
    batch_id = response["Id"]
    _log(log, "info", "batch submitted", batch_id=batch_id, statements=names)
    description, polls = _wait(client, batch_id, f"Redshift batch {batch_id} ({', '.join(names)})",
                               cancelled=f"it was cancelled, so nothing from the load batch was committed{aftermath}",
                               timing=timing, log=log)
    outcomes = tuple(_sub_outcomes(description, names))
    if description.get("Status") != "FINISHED":
        raise _batch_failure(description, outcomes, names, aftermath)
    for outcome in outcomes:
        _log_outcome(log, outcome)
    _log(log, "info", "batch finished", batch_id=batch_id, statements=len(outcomes),
         duration_ms=_milliseconds(description.get("Duration")), polls=polls)
    return batch_id, outcomes, polls


def _setup_aftermath(committed: list[str], later: list[str]) -> str:
    """What a setup failure leaves: the statements before it committed, the rest not run."""
    text = f"; committed before it: {', '.join(committed)} (idempotent)" if committed else ""
    return text + (f"; not run: {', '.join(later)}" if later else "")


def _require_time(timing: Timing, what: str, aftermath: str) -> None:
    left = timing.deadline - timing.clock()
    if left < FIRST_POLL_SECONDS:
        raise LoadTimeout(f"only {max(left, 0):.1f} s left before the deadline: not starting {what}{aftermath}")


def _wait(client, statement_id: str, what: str, *, cancelled: str, timing: Timing, log) -> tuple[dict, int]:
    """Poll DescribeStatement until `statement_id` is terminal; returns (its description, polls).
    Cancels it and raises LoadTimeout rather than sleep past the deadline."""
    started = timing.clock()
    interval, polls = FIRST_POLL_SECONDS, 0
    while True:
        description = client.describe_statement(Id=statement_id)
        polls += 1
        status = description.get("Status", "")
        if status in TERMINAL:
            return description, polls
        now = timing.clock()
        if now + interval >= timing.deadline:
            raise LoadTimeout(
                f"{what} was still {status or 'running'} after {now - started:.1f} s, at the Lambda's deadline; "
                + (cancelled if _cancel(client, statement_id, log)
                   else "cancelling it failed: check it with DescribeStatement before re-running"))
        timing.sleep(interval)
        interval = min(interval * 2, MAX_POLL_SECONDS)


def _outcome(phase: str, name: str, description: dict[str, Any], *, default_id: str) -> StatementOutcome:
    rows = description.get("ResultRows")
    return StatementOutcome(
        phase=phase, name=name, id=description.get("Id") or default_id, status=description.get("Status", ""),
        duration_ms=_milliseconds(description.get("Duration")),
        rows=None if rows is None or rows < 0 else rows,
        redshift_query_id=description.get("RedshiftQueryId"))


def _sub_outcomes(description: dict[str, Any], names: list[str]) -> list[StatementOutcome]:
    """One outcome per sub-statement, named after its file. Sub-statement ids are `<batch id>:<n>`
    with n counting from 1 in the order the SQL was sent."""
    outcomes = []
    for position, sub in enumerate(description.get("SubStatements") or []):
        index = _index(sub.get("Id", ""), default=position)
        name = names[index] if 0 <= index < len(names) else f"statement {index + 1}"
        outcomes.append(_outcome(LOAD, name, sub, default_id=""))
    return outcomes


def _batch_failure(description: dict[str, Any], outcomes: tuple[StatementOutcome, ...], names: list[str],
                   aftermath: str) -> StatementFailed:
    status = description.get("Status", "")
    errors = {sub.get("Id", ""): sub.get("Error") for sub in description.get("SubStatements") or []}
    culprit = (next((o for o in outcomes if o.status == "FAILED"), None)
               or next((o for o in outcomes if errors.get(o.id)), None)
               or next((o for o in outcomes if o.status == "ABORTED"), None))
    error = ((errors.get(culprit.id) if culprit else None) or description.get("Error")
             or f"status {status}, no error message")
    where = (f"{culprit.name}.sql ({culprit.id})" if culprit
             else f"batch {description.get('Id', '')} ({', '.join(names)})")
    verb = "failed" if status == "FAILED" else "was aborted"
    message = (f"Redshift statement {where} {verb}: {error}. The load batch ran as one transaction, so nothing"
               f" from it was committed")
    skipped = [o.name for o in outcomes
               if culprit and o.status not in ("FINISHED", "FAILED") and o.name != culprit.name]
    if skipped:
        message += f"; not run: {', '.join(skipped)}"
    return StatementFailed(message + aftermath, name=culprit.name if culprit else None, redshift_error=error)


def _cancel(client, statement_id: str, log) -> bool:
    try:
        return bool(client.cancel_statement(Id=statement_id).get("Status"))
    except Exception as error:  # noqa: BLE001 (report the timeout, whatever the cancel did)
        _log(log, "warning", "cancel failed", statement_id=statement_id, error=str(error))
        return False


def _index(statement_id: str, *, default: int) -> int:
    _, separator, suffix = statement_id.rpartition(":")
    return int(suffix) - 1 if separator and suffix.isdigit() else default


def _milliseconds(nanoseconds: int | None) -> float | None:
    return None if nanoseconds is None or nanoseconds < 0 else round(nanoseconds / 1_000_000, 3)


def _log_outcome(log, outcome: StatementOutcome) -> None:
    # ("name" is reserved by logging's LogRecord, hence "statement")
    _log(log, "info", "statement finished", phase=outcome.phase, statement=outcome.name, statement_id=outcome.id,
         status=outcome.status, duration_ms=outcome.duration_ms, rows=outcome.rows,
         redshift_query_id=outcome.redshift_query_id, stacklevel=4)


def _log(log, level: str, message: str, *, stacklevel: int = 3, **fields: Any) -> None:
    if log is not None:
        getattr(log, level)(message, extra=fields, stacklevel=stacklevel)   # log the caller's line
