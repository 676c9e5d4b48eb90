"""RedshiftWarehouse smoke: the setup ran at deploy (as the admin) and the loader runs the load
batch through the Data API as its own database user (on AWS).

LocalStack keeps a Redshift cluster only as a control-plane record (no SQL engine behind it) and
its free edition has no Redshift Data API and no custom-resource provider, so there only the
deployed functions' readiness is checked; the SQL keeps its proof on DuckDB (`make demo`, the tests).
"""

from __future__ import annotations

import json

from refarch.smoke.report import SmokeReport
from refarch.smoke.target import Progress, Target

NO_SQL = ("LocalStack's Redshift is a control-plane record without a SQL engine, and its free "
          "edition has no Redshift Data API")
NO_CUSTOM_RESOURCES = "LocalStack's free edition has no custom-resource provider: the setup never runs there"
SETUP_RESOURCE = "Custom::RedshiftWarehouseSetup"
DONE = ("CREATE_COMPLETE", "UPDATE_COMPLETE")


def smoke_warehouse(target: Target, stack_name: str, *, timeout: float, progress: Progress) -> SmokeReport:
    report = SmokeReport("RedshiftWarehouse", target.name)
    outputs = target.outputs(stack_name)
    lambda_ = target.client("lambda")
    for step, output in (("loader function ready", "LoaderFunctionName"), ("setup function ready", "SetupFunctionName")):
        config = lambda_.get_function_configuration(FunctionName=outputs[output])
        report.expect(step, config.get("State", "Active") == "Active",
                      f"{config['FunctionName']} is {config.get('State', 'Active')} ({config['Runtime']})",
                      f"{config['FunctionName']} is {config.get('State')}: {config.get('StateReason', '')}")
    cluster = target.client("redshift").describe_clusters(ClusterIdentifier=outputs["ClusterIdentifier"])
    (description,) = cluster["Clusters"]
    report.expect("cluster exists", description["ClusterIdentifier"] == outputs["ClusterIdentifier"],
                  f"{description['ClusterIdentifier']} ({description.get('NodeType')}, "
                  f"{description.get('ClusterStatus')})", "the cluster is not described")
    if target.is_localstack:
        report.not_runnable("setup statements", NO_CUSTOM_RESOURCES)
        report.not_runnable("load statements", NO_SQL)
        return report
    # The setup function ran the setup statements as the admin when the stack was deployed.
    pages = target.client("cloudformation").get_paginator("list_stack_resources").paginate(StackName=stack_name)
    setups = [r for page in pages for r in page["StackResourceSummaries"] if r["ResourceType"] == SETUP_RESOURCE]
    report.expect("setup statements", len(setups) == 1 and setups[0]["ResourceStatus"] in DONE,
                  f"{SETUP_RESOURCE} is {setups[0]['ResourceStatus'] if setups else ''}: the schema, the loader's "
                  "user and its grants are in place",
                  f"{SETUP_RESOURCE}: {[(r['LogicalResourceId'], r['ResourceStatus']) for r in setups]}")
    progress("running the loader (load statements, as the loader's database user)")
    response = lambda_.invoke(FunctionName=outputs["LoaderFunctionName"], Payload=b"{}")
    body = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        report.missing("load statements", f"the loader failed: {str(body)[:400]}")
    else:
        report.arrived("load statements", f"the loader finished: {str(body)[:400]}")
    return report
