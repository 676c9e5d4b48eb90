"""A read-only decision API: one GET resource on API Gateway (REST) backed by a Lambda function,
with IAM (SigV4) or API-key authorization, stage throttling, JSON access logs to an encrypted
log group, X-Ray tracing, and alarms on the 5xx rate, p99 latency and function errors."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct

from refarch.constructs.alarms import FIVE_MINUTES, alarm_when
from refarch.constructs.checkov import skip_check
from refarch.constructs.logs import encrypted_log_group
from refarch.constructs.nag import acknowledge, acknowledge_resource

AUTH_MODES = ("iam", "api-key")
MINUTE = Duration.minutes(1)


class PlacementApi(Construct):
    """GET /placements/{placement_id}/ad[?candidates=...] -> `function` (proxy integration).

    `invoke_policy` (IAM mode) is the managed policy a caller needs; `api_key` (API-key mode)
    is the key a caller sends as x-api-key, under a usage plan with the same throttle.
    """

    def __init__(self, scope: Construct, id: str, *, function: lambda_.IFunction, auth: str,
                 rate_per_second: int, burst: int, p99_ms: int, key: kms.IKey, log_retention_days: int,
                 removal_policy: RemovalPolicy, alarm_topic: sns.ITopic | None,
                 stage_name: str = "v1", max_5xx_rate: float = 0.01) -> None:
        super().__init__(scope, id)
        if auth not in AUTH_MODES:
            raise ValueError(f"PlacementApi auth={auth!r}: allowed {', '.join(AUTH_MODES)}")
        if not 1 <= rate_per_second <= 10000 or not 1 <= burst <= 5000:
            raise ValueError(f"PlacementApi rate_per_second={rate_per_second!r} (1 to 10000), burst={burst!r} (1 to 5000)")
        self.stage_name = stage_name
        self.access_logs = encrypted_log_group(self, "AccessLogs", key=key, retention_days=log_retention_days,
                                               removal_policy=removal_policy)
        self.api = apigateway.RestApi(
            self, "Api", description="Which ad to show on a placement, from the live CTR ranking",
            endpoint_types=[apigateway.EndpointType.REGIONAL], cloud_watch_role=False,
            deploy_options=apigateway.StageOptions(
                stage_name=stage_name, throttling_rate_limit=rate_per_second, throttling_burst_limit=burst,
                access_log_destination=apigateway.LogGroupLogDestination(self.access_logs),
                access_log_format=apigateway.AccessLogFormat.json_with_standard_fields(
                    caller=True, http_method=True, ip=True, protocol=True, request_time=True,
                    resource_path=True, response_length=True, status=True, user=True),
                tracing_enabled=True, metrics_enabled=True))
        # GET has no body; validating both is what the nag rule checks, and costs nothing.
        validator = self.api.add_request_validator("Parameters", validate_request_parameters=True,
                                                   validate_request_body=True)
        resource = self.api.root.add_resource("placements").add_resource("{placement_id}").add_resource("ad")
        self.method = resource.add_method(
            "GET", apigateway.LambdaIntegration(function),
            authorization_type=apigateway.AuthorizationType.IAM if auth == "iam" else apigateway.AuthorizationType.NONE,
            api_key_required=auth == "api-key", request_validator=validator,
            request_parameters={"method.request.path.placement_id": True,
                                "method.request.querystring.candidates": False})
        self.invoke_policy: iam.ManagedPolicy | None = None
        self.api_key: apigateway.IApiKey | None = None
        if auth == "iam":
            self.invoke_policy = iam.ManagedPolicy(self, "InvokePolicy", description="Call the placement API",
                                                   statements=[iam.PolicyStatement(
                                                       actions=["execute-api:Invoke"],
                                                       resources=[self.method.method_arn])])
            acknowledge_resource(self.invoke_policy, self.method.method_arn,
                                 "The one wildcard is the {placement_id} path segment of this API's single "
                                 "GET method and stage: a caller may ask for any placement, and nothing else")
        else:
            self.api_key = self.api.add_api_key("Key", description="Placement API key for the ad servers")
            plan = self.api.add_usage_plan("UsagePlan", throttle=apigateway.ThrottleSettings(
                rate_limit=rate_per_second, burst_limit=burst))
            plan.add_api_stage(stage=self.api.deployment_stage)
            plan.add_api_key(self.api_key)
            acknowledge(self.api, "APIG4", "API-key mode (setting adtech_api_auth=api-key): callers send the "
                        "usage plan's key, which is throttled like the stage; IAM mode is the default")
        acknowledge(self.api, "COG4", "Callers are ad servers, AWS principals signing with SigV4 (or holding "
                    "the usage plan's key), not Cognito users")
        acknowledge(self.api, "APIG3", "No public, anonymous traffic: every request is authorized (SigV4 or "
                    "API key) and the stage throttles; a WAF web ACL would add cost and latency to each decision")
        acknowledge(self.api, "APIG6", "Execution logging needs the account-wide API Gateway CloudWatch role, "
                    "which this stack does not take over; JSON access logs record every request instead")
        stage = self.api.deployment_stage.node.default_child
        skip_check(stage, "CKV_AWS_120", "Responses must not be cached: each request draws its own "
                   "exploration, and the function already caches the placement's ranking for a few seconds")
        self.alarms: list[cloudwatch.Alarm] = [
            alarm_when(self, "ServerErrors", topic=alarm_topic, above=max_5xx_rate, periods=3,
                       metric=self.api.metric_server_error(period=MINUTE, statistic="Average"),
                       description=f"More than {max_5xx_rate:.0%} of placement API requests failed (5xx)"),
            alarm_when(self, "LatencyP99", topic=alarm_topic, above=p99_ms, periods=5,
                       metric=self.api.metric_latency(period=MINUTE, statistic="p99"),
                       description=f"Placement API p99 latency above {p99_ms} ms"),
            alarm_when(self, "FunctionErrors", topic=alarm_topic, above=0,
                       metric=function.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
                       description="The placement API function raised errors"),
        ]

    @property
    def url(self) -> str:
        return self.api.url
