"""Service providers backed by moto's in-memory models, for a machine without Docker.

LocalStack's own DynamoDB providers run DynamoDB Local (a Java download) and its OpenSearch
provider downloads OpenSearch itself; neither can be fetched here. These providers implement
no operation themselves: every call falls through to moto (LocalStack's moto fallback), which
serves the control plane and, for DynamoDB, the data plane the patterns use (CreateTable,
TTL, PITR, BatchWriteItem, Query, ...). Selected with `PROVIDER_OVERRIDE_DYNAMODB=moto` and
`PROVIDER_OVERRIDE_OPENSEARCH=moto`. moto's OpenSearch has no index or search API, so delivery
into a domain cannot be exercised with it.
"""

from __future__ import annotations

from localstack.services.plugins import Service, aws_provider


@aws_provider(api="dynamodb", name="moto")
def dynamodb_moto():
    from localstack.aws.api.dynamodb import DynamodbApi
    from localstack.services.moto import MotoFallbackDispatcher

    class MotoDynamoDBProvider(DynamodbApi):
        """Every operation is moto's."""

    return Service.for_provider(MotoDynamoDBProvider(), dispatch_table_factory=MotoFallbackDispatcher)


@aws_provider(api="opensearch", name="moto")
def opensearch_moto():
    from localstack.aws.api.opensearch import OpensearchApi
    from localstack.services.moto import MotoFallbackDispatcher

    class MotoOpensearchProvider(OpensearchApi):
        """Every operation is moto's: domains are created at once, with no cluster behind them."""

    return Service.for_provider(MotoOpensearchProvider(), dispatch_table_factory=MotoFallbackDispatcher)
