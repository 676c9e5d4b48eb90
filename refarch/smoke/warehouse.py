"""RedshiftWarehouse smoke: the loader runs the warehouse SQL through the Data API (on AWS).

LocalStack keeps a Redshift cluster only as a control-plane record (no SQL engine behind it) and
its free edition has no Redshift Data API, so there only the deployed loader's readiness is
checked; the SQL keeps its proof on DuckDB (`make demo`, the tests).
"""

from __future__ import annotations

import json

from refarch.smoke.report import SmokeReport
from refarch.smoke.target import Progress, Target

NO_SQL = ("LocalStack's Redshift is a control-plane record without a SQL engine, and its free "
          "edition has no Redshift Data API")


def smoke_warehouse(target: Target, stack_name: str, *, timeout: float, progress: Progress) -> SmokeReport:
    report = SmokeReport("RedshiftWarehouse", target.name)
    outputs = target.outputs(stack_name)
    lambda_ = target.client("lambda")
    config = lambda_.get_function_configuration(FunctionName=outputs["LoaderFunctionName"])
    report.expect("loader function ready", config.get("State", "Active") == "Active",
                  f"{config['FunctionName']} is {config.get('State', 'Active')} ({config['Runtime']})",
                  f"{config['FunctionName']} is {config.get('State')}: {config.get('StateReason', '')}")
    cluster = target.client("redshift").describe_clusters(ClusterIdentifier=outputs["ClusterIdentifier"])
    (description,) = cluster["Clusters"]
    report.expect("cluster exists", description["ClusterIdentifier"] == outputs["ClusterIdentifier"],
                  f"{description['ClusterIdentifier']} ({description.get('NodeType')}, "
                  f"{description.get('ClusterStatus')})", "the cluster is not described")
    if target.is_localstack:
        report.not_runnable("setup and load statements", NO_SQL)
        return report
    progress("running the loader (setup and load statements)")
    response = lambda_.invoke(FunctionName=outputs["LoaderFunctionName"], Payload=b"{}")
    body = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        report.missing("setup and load statements", f"the loader failed: {str(body)[:400]}")
    else:
        report.arrived("setup and load statements", f"the loader finished: {str(body)[:400]}")
    return report
