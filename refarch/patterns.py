"""The catalogue of patterns: what each stack is and what it deploys.

Only metadata lives here, so settings and the CLI can list patterns without
importing CDK. `refarch.application` maps each name to the stack that builds it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pattern:
    name: str
    summary: str
    deploys: tuple[str, ...]


PATTERNS: tuple[Pattern, ...] = (
    Pattern(
        "SecurityBaseline",
        "Shared security foundation every other stack builds on",
        ("customer-managed KMS keys (data, audit) with rotation",
         "VPC with isolated subnets only, no NAT",
         "S3 + DynamoDB gateway endpoints, interface endpoints",
         "VPC flow logs to an encrypted log group",
         "S3 access-log bucket",
         "multi-region CloudTrail with log-file validation, KMS-encrypted"),
    ),
)

PATTERN_NAMES: tuple[str, ...] = tuple(p.name for p in PATTERNS)
BASELINE = "SecurityBaseline"
