"""An internal LocalStack endpoint that stores an AWS-owned public SSM parameter.

AWS publishes some values as public parameters under `/aws/service/...`, which CloudFormation
resolves at deploy time; the templates take the Powertools layer ARN from one
(`/aws/service/powertools/python/<arch>/<runtime>/<release>`). LocalStack, like AWS, refuses
PutParameter for names under `/aws`, and its free edition does not carry these parameters. This
endpoint lets `refarch deploy --localstack` seed one, as AWS would have it, into the region's
parameter store:

    POST /_refarch/public-parameters  {"account": ..., "region": ..., "name": ..., "value": ...}
"""

from __future__ import annotations

import json

from localstack.runtime import hooks

ROUTE = "/_refarch/public-parameters"


def store_public_parameter(request):
    from moto.ssm.models import Parameter, ssm_backends
    from rolo import Response

    body = json.loads(request.data or b"{}")
    missing = [key for key in ("account", "region", "name", "value") if not body.get(key)]
    if missing or not str(body.get("name", "")).startswith("/aws/service/"):
        return Response(json.dumps({"error": f"expected account, region, value and a /aws/service/ name; "
                                             f"missing {missing}"}), status=400)
    parameters = ssm_backends[body["account"]][body["region"]]._parameters
    versions = dict.setdefault(parameters, body["name"], [])  # around moto's reserved-name check
    versions.append(Parameter(account_id=body["account"], name=body["name"], value=body["value"],
                              parameter_type="String", description="AWS public parameter (seeded)",
                              allowed_pattern=None, keyid=None, last_modified_date=0.0,
                              version=len(versions) + 1, data_type="text"))
    return Response(json.dumps({"name": body["name"], "version": len(versions)}), status=200,
                    mimetype="application/json")


@hooks.on_infra_start()
def register_public_parameters_route():
    from localstack.services.edge import ROUTER

    ROUTER.add(path=ROUTE, endpoint=store_public_parameter, methods=["POST"])
