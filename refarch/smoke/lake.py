"""BatchDataLake smoke: raw files land in the raw zone; on AWS the nightly workflow (crawl, then
the Spark ETL) runs on them and a named query answers in the Athena workgroup.

LocalStack's free edition accepts Glue and Athena resources only as no-ops, so there the
workflow and query steps are reported as not runnable; the ETL and the queries keep their
proof on local Spark and DuckDB (`make demo`, the tests).
"""

from __future__ import annotations

import uuid

from refarch.local.generators.trades import generate_trades
from refarch.smoke.report import SmokeReport
from refarch.smoke.target import Progress, Target, poll

NO_GLUE = "Glue (crawler, job, workflow) is accepted by LocalStack's free edition only as a no-op"
NO_ATHENA = "Athena (workgroup, named queries) is accepted by LocalStack's free edition only as a no-op"


def smoke_lake(target: Target, stack_name: str, *, timeout: float, progress: Progress) -> SmokeReport:
    report = SmokeReport("BatchDataLake", target.name)
    outputs = target.outputs(stack_name)
    s3 = target.client("s3")
    run_id = uuid.uuid4().hex[:8]
    raw = generate_trades(40, seed=13)
    keys = []
    for name, text in sorted(raw.files.items()):
        key = f"{outputs['RawPrefix']}smoke-{run_id}-{name.replace('/', '-')}"
        s3.put_object(Bucket=outputs["RawBucketName"], Key=key, Body=text.encode())
        keys.append(key)
    present = [k for k in keys if s3.head_object(Bucket=outputs["RawBucketName"], Key=k)["ContentLength"] > 0]
    report.expect("raw files in the raw zone", present == keys,
                  f"{len(keys)} CSV files ({raw.injected.rows} rows) under s3://{outputs['RawBucketName']}/"
                  f"{outputs['RawPrefix']}", f"{len(present)} of {len(keys)} files readable back")
    if target.is_localstack:
        report.not_runnable("nightly workflow (crawl, ETL)", NO_GLUE)
        report.not_runnable("named query in the Athena workgroup", NO_ATHENA)
        return report
    _run_workflow(target, outputs["WorkflowName"], report, timeout=timeout, progress=progress)
    _run_named_query(target, outputs["WorkGroupName"], report, timeout=timeout, progress=progress)
    return report


def _run_workflow(target: Target, workflow: str, report: SmokeReport, *, timeout: float,
                  progress: Progress) -> None:
    glue = target.client("glue")
    run_id = glue.start_workflow_run(Name=workflow)["RunId"]

    def finished():
        run = glue.get_workflow_run(Name=workflow, RunId=run_id)["Run"]
        return run if run["Status"] in ("COMPLETED", "STOPPED", "ERROR") else None

    run = poll(finished, timeout=timeout, interval=15, progress=progress, what=f"workflow run {run_id}")
    stats = (run or {}).get("Statistics", {})
    report.expect("nightly workflow (crawl, ETL)",
                  bool(run) and run["Status"] == "COMPLETED" and stats.get("FailedActions", 1) == 0,
                  f"run {run_id} completed: {stats.get('SucceededActions', 0)} actions succeeded",
                  f"run {run_id}: {(run or {}).get('Status', 'still running')}, {stats}")


def _run_named_query(target: Target, workgroup: str, report: SmokeReport, *, timeout: float,
                     progress: Progress) -> None:
    athena = target.client("athena")
    ids = athena.list_named_queries(WorkGroup=workgroup)["NamedQueryIds"]
    if not ids:
        report.missing("named query in the Athena workgroup", f"workgroup {workgroup} has no named queries")
        return
    query = athena.get_named_query(NamedQueryId=sorted(ids)[0])["NamedQuery"]
    execution = athena.start_query_execution(QueryString=query["QueryString"], WorkGroup=workgroup,
                                             QueryExecutionContext={"Database": query["Database"]})
    execution_id = execution["QueryExecutionId"]

    def done():
        state = athena.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]["Status"]
        return state if state["State"] in ("SUCCEEDED", "FAILED", "CANCELLED") else None

    state = poll(done, timeout=timeout, interval=3, progress=progress, what=f"query {query['Name']}")
    if not state or state["State"] != "SUCCEEDED":
        report.missing("named query in the Athena workgroup",
                       f"{query['Name']}: {(state or {}).get('State', 'still running')} "
                       f"{(state or {}).get('StateChangeReason', '')}")
        return
    rows = athena.get_query_results(QueryExecutionId=execution_id)["ResultSet"]["Rows"]
    report.expect("named query in the Athena workgroup", len(rows) > 1,
                  f"{query['Name']} returned {len(rows) - 1} row(s)", f"{query['Name']} returned no rows")
