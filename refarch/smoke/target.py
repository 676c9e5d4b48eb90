"""Where a smoke check runs: AWS (boto3's default session) or LocalStack (localstack-client)."""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError

AWS, LOCALSTACK = "aws", "localstack"
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=5, read_timeout=30)


class StackNotDeployed(Exception):
    """The stack the smoke check needs is not deployed (or not complete) on the target."""


@dataclass
class Target:
    name: str                 # AWS or LOCALSTACK
    session: Any              # boto3.Session or localstack_client.session.Session
    region: str

    @property
    def is_localstack(self) -> bool:
        return self.name == LOCALSTACK

    def client(self, service: str):
        return self.session.client(service, region_name=self.region, config=_CONFIG)

    def outputs(self, stack_name: str) -> dict[str, str]:
        try:
            (stack,) = self.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
        except ClientError as error:
            raise StackNotDeployed(f"{stack_name} is not deployed on {self.name}: {error}") from None
        status = stack["StackStatus"]
        if not status.endswith("_COMPLETE") or "ROLLBACK" in status or "DELETE" in status:
            raise StackNotDeployed(f"{stack_name} is {status} on {self.name}")
        return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def aws_target(region: str | None = None) -> Target:
    import boto3

    session = boto3.Session(region_name=region)
    if not session.region_name:
        raise ValueError("no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION), or pass --region")
    return Target(AWS, session, session.region_name)


def localstack_target(endpoint: str, region: str = "us-east-1") -> Target:
    from localstack_client.session import Session

    parsed = urllib.parse.urlparse(endpoint)
    session = Session(localstack_host=f"{parsed.hostname}:{parsed.port or 4566}", region_name=region)
    return Target(LOCALSTACK, session, region)


Progress = Callable[[str], None]


def poll(check: Callable[[], Any], *, timeout: float, interval: float, progress: Progress,
         what: str, clock: Callable[[], float] = time.monotonic,
         sleep: Callable[[float], None] = time.sleep) -> Any:
    """Call `check` until it returns something truthy or `timeout` passes; returns the last
    result (falsy on time-out). `progress` hears how long it has waited for `what`."""
    started = clock()
    while True:
        result = check()
        waited = clock() - started
        if result or waited >= timeout:
            return result
        progress(f"waiting for {what}: {waited:.0f}/{timeout:.0f} s")
        sleep(interval)
