"""Search index setup: the custom-resource handler `search_index_setup.handler`.

At deploy, inside the VPC (the domain has no public endpoint), as the domain's master role:
  1. the index state management policy (roll over, delete after the retention), created or
     updated in place (ISM needs the current sequence number to update);
  2. the index template: explicit mapping, dynamic fields refused, the rollover alias;
  3. the first index behind the write alias, if the alias does not exist yet;
  4. the writer role (what Firehose may do) and its mapping to Firehose's IAM role, for
     fine-grained access control.
Every request is idempotent, so Create and Update run the same steps; Delete keeps the
indices (they are data) and does nothing. Any answer other than 2xx fails the deploy with
the path and OpenSearch's reply.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

REQUIRED = ("Endpoint", "Alias", "TemplateName", "Template", "PolicyName", "Policy", "WriterRole",
            "WriterRoleBody", "WriterBackendRole")


class SetupError(RuntimeError):
    """OpenSearch refused a request; the message names it and quotes the reply."""


@dataclass(frozen=True)
class Response:
    status: int
    body: dict[str, Any]


Send = Callable[[str, str, dict[str, Any] | None], Response]   # (method, path, body) -> response


def properties(event: Mapping[str, Any]) -> dict[str, Any]:
    props = dict(event.get("ResourceProperties") or {})
    missing = [name for name in REQUIRED if not props.get(name)]
    if missing:
        raise SetupError(f"resource properties missing: {', '.join(missing)}")
    return props


def setup(props: Mapping[str, Any], send: Send) -> list[str]:
    """Run the four steps through `send`; returns what was done, one line per request."""
    done = []

    def call(method: str, path: str, body: dict[str, Any] | None = None, ok: tuple[int, ...] = ()) -> Response:
        response = send(method, path, body)
        if not (200 <= response.status < 300 or response.status in ok):
            raise SetupError(f"{method} {path}: HTTP {response.status}: {json.dumps(response.body)[:500]}")
        done.append(f"{method} {path} -> {response.status}")
        return response

    policy_path = f"/_plugins/_ism/policies/{props['PolicyName']}"
    current = call("GET", policy_path, ok=(404,))
    policy = json.loads(props["Policy"])
    if current.status == 404:
        call("PUT", policy_path, policy)
    else:
        call("PUT", f"{policy_path}?if_seq_no={current.body['_seq_no']}&if_primary_term={current.body['_primary_term']}",
             policy)
    call("PUT", f"/_index_template/{props['TemplateName']}", json.loads(props["Template"]))
    alias = props["Alias"]
    if call("HEAD", f"/_alias/{alias}", ok=(404,)).status == 404:
        call("PUT", f"/{alias}-000001", {"aliases": {alias: {"is_write_index": True}}})
    call("PUT", f"/_plugins/_security/api/roles/{props['WriterRole']}", json.loads(props["WriterRoleBody"]))
    call("PUT", f"/_plugins/_security/api/rolesmapping/{props['WriterRole']}",
         {"backend_roles": [props["WriterBackendRole"]]})
    return done


def signed_sender(endpoint: str, region: str) -> Send:
    """HTTPS to the domain, each request signed with the function's credentials (SigV4, es)."""
    import botocore.session
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    credentials = botocore.session.Session().get_credentials()

    def send(method: str, path: str, body: dict[str, Any] | None) -> Response:
        data = None if body is None else json.dumps(body).encode()
        request = AWSRequest(method=method, url=f"https://{endpoint}{path}", data=data,
                             headers={"Content-Type": "application/json"})
        SigV4Auth(credentials, "es", region).add_auth(request)
        prepared = urllib.request.Request(request.url, data=data, method=method, headers=dict(request.headers))
        try:
            with urllib.request.urlopen(prepared, timeout=30) as reply:
                return Response(reply.status, _json(reply.read()))
        except urllib.error.HTTPError as error:
            return Response(error.code, _json(error.read()))
    return send


def _json(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        return {"raw": raw[:200].decode(errors="replace")}
    return value if isinstance(value, dict) else {"value": value}


def handler(event: dict, context) -> dict:
    import os

    physical_id = event.get("PhysicalResourceId") or f"search-index-setup-{event.get('LogicalResourceId', '')}"
    if event.get("RequestType") == "Delete":
        return {"PhysicalResourceId": physical_id}
    props = properties(event)
    done = setup(props, signed_sender(props["Endpoint"], os.environ["AWS_REGION"]))
    print(json.dumps({"message": "search index setup", "requests": done}))
    return {"PhysicalResourceId": physical_id, "Data": {"Requests": len(done)}}
