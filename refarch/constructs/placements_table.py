"""DynamoDB table holding one ranking per placement, written conditionally by the updater."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

PARTITION_KEY, TTL_ATTRIBUTE = "placement_id", "expires_at"


class PlacementsTable(Construct):
    """On-demand table keyed by `placement_id`, TTL on `expires_at` (stale rankings expire),
    point-in-time recovery and the customer-managed key."""

    def __init__(self, scope: Construct, id: str, *, key: kms.IKey, removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, id)
        self.table = dynamodb.Table(
            self, "Table",
            partition_key=dynamodb.Attribute(name=PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute=TTL_ATTRIBUTE,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True),
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED, encryption_key=key,
            removal_policy=removal_policy, deletion_protection=removal_policy == RemovalPolicy.RETAIN)
