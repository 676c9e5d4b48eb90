"""AdTech, run locally: a closed loop of rounds between simulated users, the real placement
API handler, the ad-tech Flink job on PyFlink and the real placement updater, on moto DynamoDB.
"""

from __future__ import annotations

from typing import Any

PLACEMENTS_KEY = "placement_id"


def create_placements_table(client: Any, name: str) -> None:
    """The placements table as the stack creates it (key placement_id, TTL on expires_at)."""
    client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": PLACEMENTS_KEY, "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": PLACEMENTS_KEY, "AttributeType": "S"}])
    client.update_time_to_live(TableName=name, TimeToLiveSpecification={
        "Enabled": True, "AttributeName": "expires_at"})
