"""The interface endpoints each pattern's compute in the isolated VPC calls AWS through.

Settings need this before anything is synthesized (the baseline is built first), so it is
declared here; the reachability gate derives the same from the synthesized templates, and
a test holds the two equal, so the declaration cannot drift from what the stacks do.
The S3 and DynamoDB gateway endpoints are always there and are not listed.

The baseline carries the endpoints of every pattern, whichever are selected: a baseline
that followed the selection would remove the endpoints of patterns already deployed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from refarch.setting_parsers import SettingError

INTERFACE_ENDPOINTS_NEEDED: dict[str, dict[str, str]] = {
    "IotTelemetry": {
        "sqs": "the writer quarantines malformed readings in SQS",
        "sns": "the writer publishes threshold alerts to SNS",
    },
    "RedshiftWarehouse": {
        "redshift-data": "the setup and loader functions run their SQL through the Redshift Data API",
        "glue": "Spectrum reads the lake's Glue catalog from the cluster",
    },
    "StreamingLogAnalytics": {
        "kinesis-streams": "the clickstream job reads the events and writes the clean, window, dead-letter "
                           "and alert streams",
        "logs": "the clickstream job writes its log stream",
        "monitoring": "Managed Flink publishes the job's metrics",
    },
    "AdTech": {
        "kinesis-streams": "the CTR job reads the ad events and writes windows and dead letters",
        "logs": "the CTR job writes its log stream",
        "monitoring": "Managed Flink publishes the job's metrics",
        "sqs": "the placement updater quarantines records that are not CTR windows",
    },
}


def needed_interface_endpoints() -> tuple[str, ...]:
    """Every endpoint some pattern needs, in catalogue order, each once."""
    return tuple(dict.fromkeys(name for needs in INTERFACE_ENDPOINTS_NEEDED.values() for name in needs))


def check_interface_endpoints(setting: str, raw: Any, chosen: Sequence[str]) -> None:
    """Refuse a choice of endpoints that leaves out one a pattern needs, naming the pattern."""
    for pattern, needs in INTERFACE_ENDPOINTS_NEEDED.items():
        for name, why in needs.items():
            if name not in chosen:
                raise SettingError(setting, raw, f"a list that includes {name}, which {pattern} needs ({why}); "
                                   "name more endpoints to add them")
