"""The search index setup handler: the requests it sends a domain, in order, against a fake
domain that answers as OpenSearch does (404 for what does not exist yet)."""

from __future__ import annotations

import json

import pytest

from refarch.constructs.search_index_setup import index_template, ism_policy, writer_role
from refarch import clickstream_schema as schema
from tests.lambda_loader import load

setup = load("search_index_setup", "search_index_setup")

PROPS = {"Endpoint": "vpc-refarch.us-east-1.es.amazonaws.com", "Alias": "clickstream", "TemplateName": "clickstream",
         "Template": json.dumps(index_template("clickstream", schema.opensearch_mapping(), shards=1, replicas=1)),
         "PolicyName": "clickstream-retention", "Policy": json.dumps(ism_policy("clickstream", retention_days=30)),
         "WriterRole": "clickstream_writer", "WriterRoleBody": json.dumps(writer_role("clickstream")),
         "WriterBackendRole": "arn:aws:iam::123456789012:role/firehose"}


class Domain:
    def __init__(self, existing: dict[str, dict] | None = None, refuse: str | None = None) -> None:
        self.existing, self.refuse, self.sent = dict(existing or {}), refuse, []

    def __call__(self, method, path, body):
        self.sent.append((method, path, body))
        if self.refuse and path.startswith(self.refuse):
            return setup.Response(400, {"error": "mapper_parsing_exception"})
        if method in ("GET", "HEAD"):
            found = self.existing.get(path.split("?")[0])
            return setup.Response(200, found) if found is not None else setup.Response(404, {})
        self.existing[path.split("?")[0]] = body or {}
        return setup.Response(200, {"acknowledged": True})


def test_a_new_domain_gets_the_policy_template_write_index_and_writer_role_in_order():
    domain = Domain()
    setup.setup(PROPS, domain)
    assert [(m, p) for m, p, _ in domain.sent] == [
        ("GET", "/_plugins/_ism/policies/clickstream-retention"),
        ("PUT", "/_plugins/_ism/policies/clickstream-retention"),
        ("PUT", "/_index_template/clickstream"),
        ("HEAD", "/_alias/clickstream"),
        ("PUT", "/clickstream-000001"),
        ("PUT", "/_plugins/_security/api/roles/clickstream_writer"),
        ("PUT", "/_plugins/_security/api/rolesmapping/clickstream_writer")]
    assert domain.sent[4][2] == {"aliases": {"clickstream": {"is_write_index": True}}}
    assert domain.sent[6][2] == {"backend_roles": ["arn:aws:iam::123456789012:role/firehose"]}
    assert domain.sent[2][2]["template"]["mappings"]["dynamic"] == "strict"


def test_a_second_deploy_updates_the_policy_in_place_and_keeps_the_indices():
    domain = Domain({"/_plugins/_ism/policies/clickstream-retention": {"_seq_no": 7, "_primary_term": 2},
                     "/_alias/clickstream": {"clickstream-000004": {}}})
    setup.setup(PROPS, domain)
    paths = [p for _, p, _ in domain.sent]
    assert "/_plugins/_ism/policies/clickstream-retention?if_seq_no=7&if_primary_term=2" in paths
    assert not [p for p in paths if p.startswith("/clickstream-0")]


def test_a_refused_request_fails_the_deploy_naming_it():
    with pytest.raises(setup.SetupError, match=r"PUT /_index_template/clickstream: HTTP 400: .*mapper_parsing"):
        setup.setup(PROPS, Domain(refuse="/_index_template"))


def test_delete_changes_nothing_and_missing_properties_are_named():
    assert setup.handler({"RequestType": "Delete", "PhysicalResourceId": "x"}, None) == {"PhysicalResourceId": "x"}
    with pytest.raises(setup.SetupError, match="Endpoint"):
        setup.properties({"ResourceProperties": {k: v for k, v in PROPS.items() if k != "Endpoint"}})
