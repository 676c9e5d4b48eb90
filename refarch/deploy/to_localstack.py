"""`refarch deploy --localstack`: synthesize once, seed what LocalStack lacks, bootstrap when
needed, deploy the selected stacks in dependency order, and say per stack what happened."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from refarch.deploy import cdk_cli
from refarch.deploy.localstack import (
    LOCALSTACK_ACCOUNT, SeedingFailed, cli_environment, client, is_bootstrapped, layer_references,
    operation_seconds, powertools_parameters, seed_managed_layers, seed_powertools_parameters,
)
from refarch.paths import PROJECT_ROOT

# Pattern stacks depend only on the baseline (and the warehouse on the lake): deploying a few
# at once keeps a full deploy short without overloading a small machine.
CONCURRENCY = 3


class DeployFailed(Exception):
    """A CLI step before the deploy itself failed."""


def deploy_to_localstack(stacks: Sequence[str], context_pairs: Sequence[str], *, endpoint: str,
                         region: str = "us-east-1", echo: Callable[[str], None] = print
                         ) -> cdk_cli.DeployRun:
    tool = cdk_cli.cli_tool("cdklocal")
    environment = cli_environment(endpoint, region)
    context_args = [arg for pair in context_pairs for arg in ("-c", pair)]
    (PROJECT_ROOT / ".localstack").mkdir(exist_ok=True)
    assembly = Path(tempfile.mkdtemp(prefix="cdk.out-", dir=PROJECT_ROOT / ".localstack"))
    try:
        code, _ = cdk_cli.run_cli([str(tool), "synth", "--quiet", "--output", str(assembly), *context_args],
                                  environment, echo=echo)
        if code != 0:
            raise DeployFailed(f"cdklocal synth exited {code}")
        in_assembly = cdk_cli.assembly_stacks(assembly)
        unknown = sorted(set(stacks) - set(in_assembly))
        if unknown:
            raise DeployFailed(f"no stack {', '.join(unknown)} among the selected: {', '.join(in_assembly)}")
        selected = cdk_cli.assembly_stacks(assembly, stacks)  # with what they depend on
        templates = [cdk_cli.template(assembly, s) for s in in_assembly]
        for arn in seed_managed_layers(layer_references(templates, LOCALSTACK_ACCOUNT), endpoint):
            echo(f"published the AWS-managed layer {arn} (LocalStack cannot fetch it from AWS)")
        try:
            seeded = seed_powertools_parameters(powertools_parameters(templates), endpoint, region)
        except SeedingFailed as error:
            raise DeployFailed(str(error)) from None
        for line in seeded:
            echo(f"seeded the public parameter {line} (LocalStack does not hold AWS's parameters)")
        if not is_bootstrapped(endpoint, region):
            code, _ = cdk_cli.run_cli([str(tool), "bootstrap", "--app", str(assembly)], environment, echo=echo)
            if code != 0:
                raise DeployFailed(f"cdklocal bootstrap exited {code}")
        run = cdk_cli.deploy(tool, selected, app=assembly, environment=environment,
                             concurrency=CONCURRENCY, echo=echo)
        cloudformation = client("cloudformation", endpoint, region)
        for stack, outcome in run.stacks.items():
            if outcome.outcome in ("deployed", "failed"):
                outcome.seconds = operation_seconds(cloudformation, cdk_cli.stack_name(assembly, stack))
        return run
    finally:
        shutil.rmtree(assembly, ignore_errors=True)
