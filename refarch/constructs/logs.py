"""CloudWatch log groups that are always encrypted and always expire."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

_R = logs.RetentionDays
# The retention periods CloudWatch Logs accepts, in days.
RETENTION_DAYS = {
    1: _R.ONE_DAY, 3: _R.THREE_DAYS, 5: _R.FIVE_DAYS, 7: _R.ONE_WEEK, 14: _R.TWO_WEEKS,
    30: _R.ONE_MONTH, 60: _R.TWO_MONTHS, 90: _R.THREE_MONTHS, 120: _R.FOUR_MONTHS,
    150: _R.FIVE_MONTHS, 180: _R.SIX_MONTHS, 365: _R.ONE_YEAR, 400: _R.THIRTEEN_MONTHS,
    545: _R.EIGHTEEN_MONTHS, 731: _R.TWO_YEARS, 1096: _R.THREE_YEARS, 1827: _R.FIVE_YEARS,
    2192: _R.SIX_YEARS, 2557: _R.SEVEN_YEARS, 2922: _R.EIGHT_YEARS, 3288: _R.NINE_YEARS,
    3653: _R.TEN_YEARS,
}


def encrypted_log_group(scope: Construct, id: str, *, key: kms.IKey, retention_days: int,
                        removal_policy: RemovalPolicy, log_group_name: str | None = None
                        ) -> logs.LogGroup:
    """A log group encrypted with `key` (whose policy must allow CloudWatch Logs)."""
    if retention_days not in RETENTION_DAYS:
        raise ValueError(f"log retention_days={retention_days!r}: allowed "
                         + ", ".join(map(str, RETENTION_DAYS)))
    return logs.LogGroup(scope, id, encryption_key=key, retention=RETENTION_DAYS[retention_days],
                         removal_policy=removal_policy, log_group_name=log_group_name)
