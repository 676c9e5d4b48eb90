"""A REST API that websites post event batches to, integrated straight with Kinesis PutRecords.

No Lambda in the hot path: API Gateway validates the body against a JSON-schema model (a
malformed batch gets 400 with the validator's reason), turns the batch into one PutRecords
call with a mapping template (one record per event, the partition key from a field of the
event), and answers which records Kinesis did not take so the tracker can re-send those.
Stage throttling bounds what the stream must absorb; access logs go to an encrypted log
group; CORS admits only the configured site origins.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from refarch.constructs.alarms import FIVE_MINUTES, alarm_when
from refarch.constructs.checkov import skip_check
from refarch.constructs.logs import encrypted_log_group
from refarch.constructs.nag import acknowledge

ORIGIN = re.compile(r"^https://[a-z0-9.-]+(:[0-9]{1,5})?$")
_TYPES = {"object": apigateway.JsonSchemaType.OBJECT, "array": apigateway.JsonSchemaType.ARRAY,
          "string": apigateway.JsonSchemaType.STRING, "integer": apigateway.JsonSchemaType.INTEGER,
          "number": apigateway.JsonSchemaType.NUMBER, "boolean": apigateway.JsonSchemaType.BOOLEAN}
_KEYS = {"type": "type", "properties": "properties", "items": "items", "required": "required",
         "pattern": "pattern", "maxLength": "max_length", "minLength": "min_length", "minimum": "minimum",
         "maximum": "maximum", "maxItems": "max_items", "minItems": "min_items", "title": "title",
         "description": "description", "additionalProperties": "additional_properties"}


def json_schema(schema: Mapping[str, Any]) -> apigateway.JsonSchema:
    """A JSON-schema dict as CDK's JsonSchema (the keys API Gateway models use)."""
    unknown = set(schema) - set(_KEYS) - {"$schema"}
    if unknown:
        raise ValueError(f"json_schema: keys {sorted(unknown)} are not supported in an API Gateway model")
    values: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "$schema":
            values["schema"] = apigateway.JsonSchemaVersion.DRAFT4
        elif key == "type":
            values["type"] = _TYPES[value]
        elif key == "properties":
            values["properties"] = {name: json_schema(child) for name, child in value.items()}
        elif key == "items":
            values["items"] = json_schema(value)
        else:
            values[_KEYS[key]] = value
    return apigateway.JsonSchema(**values)


class StreamCollectionApi(Construct):
    """POST /<path> {"<batch_field>": [event, ...]} -> one Kinesis PutRecords call."""

    def __init__(self, scope: Construct, id: str, *, stream: kinesis.IStream, key: kms.IKey,
                 request_schema: Mapping[str, Any], batch_field: str, partition_key_field: str,
                 allowed_origins: Sequence[str], rate_limit: float, burst_limit: int,
                 log_retention_days: int, removal_policy: RemovalPolicy, path: str = "events",
                 stage_name: str = "v1", alarm_topic: sns.ITopic | None = None) -> None:
        super().__init__(scope, id)
        if not allowed_origins or any(not ORIGIN.match(o) for o in allowed_origins):
            raise ValueError(f"StreamCollectionApi allowed_origins={list(allowed_origins)!r}: one or more "
                             "https://host[:port] origins")
        if not 1 <= rate_limit <= 10_000 or not 1 <= burst_limit <= 5_000:
            raise ValueError(f"StreamCollectionApi rate_limit={rate_limit!r} (1 to 10000 requests/s), "
                             f"burst_limit={burst_limit!r} (1 to 5000)")
        if batch_field not in request_schema.get("properties", {}):
            raise ValueError(f"StreamCollectionApi batch_field={batch_field!r}: not in the request schema")
        self.allowed_origins = tuple(allowed_origins)
        self.access_logs = encrypted_log_group(self, "AccessLogs", key=key, retention_days=log_retention_days,
                                               removal_policy=removal_policy)
        self.api = apigateway.RestApi(
            self, "Api", description="Clickstream collection: event batches straight into Kinesis",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            # Access logging needs the account's API Gateway CloudWatch role; kept on delete,
            # as other APIs of the account use the same setting.
            cloud_watch_role=True, cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=apigateway.StageOptions(
                stage_name=stage_name, throttling_rate_limit=rate_limit, throttling_burst_limit=burst_limit,
                access_log_destination=apigateway.LogGroupLogDestination(self.access_logs),
                access_log_format=apigateway.AccessLogFormat.json_with_standard_fields(
                    caller=False, http_method=True, ip=True, protocol=True, request_time=True,
                    resource_path=True, response_length=True, status=True, user=False),
                logging_level=apigateway.MethodLoggingLevel.ERROR, metrics_enabled=True,
                tracing_enabled=True),
            default_cors_preflight_options=apigateway.CorsOptions(
                allow_origins=list(allowed_origins), allow_methods=["POST", "OPTIONS"],
                allow_headers=["Content-Type"], max_age=Duration.hours(1)))
        self.url = self.api.url_for_path(f"/{path}")
        self.role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
                             description="API Gateway: put the posted events on the stream")
        self.role.add_to_policy(iam.PolicyStatement(actions=["kinesis:PutRecords"], resources=[stream.stream_arn]))
        self.role.add_to_policy(iam.PolicyStatement(actions=["kms:GenerateDataKey"], resources=[key.key_arn]))

        self.model = self.api.add_model("Batch", content_type="application/json",
                                        model_name=str(request_schema.get("title", "Batch")),
                                        schema=json_schema(request_schema))
        self.validator = self.api.add_request_validator("Body", validate_request_body=True,
                                                       validate_request_parameters=True)
        self._bad_request_responses()
        integration = apigateway.AwsIntegration(
            service="kinesis", action="PutRecords", options=apigateway.IntegrationOptions(
                credentials_role=self.role, passthrough_behavior=apigateway.PassthroughBehavior.NEVER,
                request_parameters={"integration.request.header.Content-Type": "'application/x-amz-json-1.1'"},
                request_templates={"application/json": put_records_template(
                    stream.stream_name, batch_field, partition_key_field)},
                integration_responses=[
                    apigateway.IntegrationResponse(status_code="200", response_templates={
                        "application/json": self._cors_echo() + ACCEPTED_TEMPLATE}),
                    apigateway.IntegrationResponse(status_code="503", selection_pattern=r"[45]\d{2}",
                                                   response_templates={"application/json": self._cors_echo() +
                                                                       json.dumps({"message": UNAVAILABLE})})]))
        cors_header = {"method.response.header.Access-Control-Allow-Origin": True,
                       "method.response.header.Vary": True}
        self.method = self.api.root.add_resource(path).add_method(
            "POST", integration, authorization_type=apigateway.AuthorizationType.NONE,
            request_models={"application/json": self.model}, request_validator=self.validator,
            method_responses=[apigateway.MethodResponse(status_code=code, response_parameters=cors_header)
                              for code in ("200", "503")])
        self._acknowledge()
        self.alarms = self._alarms(alarm_topic)

    def _cors_echo(self) -> str:
        """VTL that answers with the caller's Origin when it is one of the allowed origins."""
        allowed = " || ".join(f'$origin == "{origin}"' for origin in self.allowed_origins)
        return ('#set($origin = $input.params().header.get("Origin"))\n'
                f"#if({allowed})\n"
                "#set($context.responseOverride.header.Access-Control-Allow-Origin = $origin)\n"
                '#set($context.responseOverride.header.Vary = "Origin")\n#end\n')

    def _bad_request_responses(self) -> None:
        """400 with the validator's reason, not API Gateway's bare 'Invalid request body'."""
        headers = {"Access-Control-Allow-Origin": f"'{self.allowed_origins[0]}'"} \
            if len(self.allowed_origins) == 1 else None
        body = '{"message": "$context.error.message", "reason": "$util.escapeJavaScript($context.error.validationErrorString)"}'
        for name, kind in (("BadBody", apigateway.ResponseType.BAD_REQUEST_BODY),
                           ("TooLarge", apigateway.ResponseType.REQUEST_TOO_LARGE),
                           ("UnsupportedType", apigateway.ResponseType.UNSUPPORTED_MEDIA_TYPE)):
            self.api.add_gateway_response(name, type=kind, response_headers=headers,
                                          templates={"application/json": body})

    def _acknowledge(self) -> None:
        reason = ("Websites' browsers post anonymous page-view events (as any analytics beacon does); "
                  "the request model, the batch limit and stage throttling guard the endpoint")
        acknowledge(self.method, "APIG4", reason)
        acknowledge(self.method, "COG4", reason)
        skip_check(self.method, "CKV_AWS_59", reason)
        stage = self.api.deployment_stage
        acknowledge(stage, "APIG3", "Stage throttling bounds the request rate; a WAF web ACL (per-IP rate "
                    "rules, bot control) is a per-site choice with its own cost, attached to this stage "
                    "by the owner if wanted")
        skip_check(stage, "CKV_AWS_120", "Every request is a new set of events to store: caching a POST "
                   "answer would drop events, so the stage has no cache")
        role = self.api.node.find_child("CloudWatchRole")
        acknowledge(role, "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                    "AmazonAPIGatewayPushToCloudWatchLogs]",
                    "AWS's managed policy for the account-level role API Gateway writes access and "
                    "execution logs with; AWS maintains it for exactly this use")

    def _alarms(self, topic: sns.ITopic | None) -> list[cloudwatch.Alarm]:
        def metric(name: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(namespace="AWS/ApiGateway", metric_name=name, statistic="Sum",
                                     period=FIVE_MINUTES, dimensions_map={
                                         "ApiName": self.api.rest_api_name,
                                         "Stage": self.api.deployment_stage.stage_name})
        return [alarm_when(self, "StreamRejects", topic=topic, above=0, metric=metric("5XXError"),
                           description="The stream did not take posted batches (throttled or failing)")]


UNAVAILABLE = "the stream did not accept the batch; send it again later"
# Kinesis answers one entry per record, in order; the ones with an ErrorCode were not stored.
ACCEPTED_TEMPLATE = (
    '#set($records = $input.path("$.Records"))\n'
    '#set($failed = $input.path("$.FailedRecordCount"))\n'
    '#set($accepted = $records.size() - $failed)\n'
    '{"accepted": $accepted, "failed": $failed, "retry": ['
    '#set($first = true)'
    '#foreach($record in $records)#if($record.ErrorCode)#if(!$first),#end$foreach.index#set($first = false)#end#end'
    ']}')


def put_records_template(stream_name: str, batch_field: str, partition_key_field: str) -> str:
    """The PutRecords request for a validated batch: each event's JSON as a record."""
    return (f'#set($events = $input.path("$.{batch_field}"))\n'
            '{"StreamName": "' + stream_name + '", "Records": [\n'
            "#foreach($event in $events)\n"
            f'  {{"Data": "$util.base64Encode($input.json("$.{batch_field}[$foreach.index]"))", '
            f'"PartitionKey": "$util.escapeJavaScript($event.{partition_key_field})"}}#if($foreach.hasNext),#end\n'
            "#end\n]}")
