"""A fresh CDK app that uses construct modules copied out of refarch, each alone.

Copied into a temporary folder and run there by tests/construct_copies.py, with a clean
sys.path (the venv's site-packages for aws-cdk-lib, and the copies): nothing of the
repository is importable, so a copy that needs more than its own helpers fails here.

For every copy it builds two stacks from the copy's minimal use (a snippet from
docs/constructs.md): `Ref<n>` runs everything but the snippet's last statement, `Use<n>`
runs all of it. Both start from the same collaborators (`key`, `vpc`, `stream`, ...), made
with plain aws-cdk-lib, so comparing them shows what the last statement changed in what it
was given. It synthesizes the app once and writes what the test needs to results.json.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import sys
import traceback
from pathlib import Path

CONFIG = json.loads(Path(sys.argv[1]).read_text())
sys.path[:0] = [*CONFIG["site_packages"], *(m["folder"] for m in CONFIG["modules"])]

from aws_cdk import App, CfnElement, CfnOutput, Duration, Environment, RemovalPolicy, Stack  # noqa: E402
from aws_cdk import aws_apigateway as apigateway  # noqa: E402
from aws_cdk import aws_dynamodb as dynamodb  # noqa: E402
from aws_cdk import aws_ec2 as ec2  # noqa: E402
from aws_cdk import aws_glue as glue  # noqa: E402
from aws_cdk import aws_iam as iam  # noqa: E402
from aws_cdk import aws_kinesis as kinesis  # noqa: E402
from aws_cdk import aws_kms as kms  # noqa: E402
from aws_cdk import aws_lambda as lambda_  # noqa: E402
from aws_cdk import aws_s3 as s3  # noqa: E402
from aws_cdk import aws_s3_assets as assets  # noqa: E402
from aws_cdk import aws_sns as sns  # noqa: E402
from aws_cdk import aws_sqs as sqs  # noqa: E402

ENV = Environment(account="123456789012", region="us-east-1")
FILES = Path(CONFIG["files"])
# What a snippet may use besides its own imports and the collaborators below.
NAMES = {"Duration": Duration, "RemovalPolicy": RemovalPolicy, "CfnOutput": CfnOutput,
         "assets": assets, "s3": s3, "sqs": sqs}


def write_files() -> dict[str, Path]:
    """The files constructs take as arguments, made here (none comes from the repository)."""
    contents = {
        "function/handler.py": "def handler(event, context):\n    return event\n",
        "queries/count_rows.sql": "-- Rows per day\nSELECT dt, count(*) FROM events GROUP BY dt\n",
        "queries/setup/01_create_schema.sql": "CREATE SCHEMA IF NOT EXISTS analytics\n",
        "etl.py": "print('etl')\n",
        "flink/main.py": "print('flink')\n",
        "flink/clicks/queries/01_count.sql": "INSERT INTO out SELECT * FROM clicks\n",
        "flink/connector.jar": "not a real jar\n",
    }
    for relative, text in contents.items():
        (FILES / relative).parent.mkdir(parents=True, exist_ok=True)
        (FILES / relative).write_text(text)
    return {"lambda_source": FILES / "function", "sql_folder": FILES / "queries", "glue_script": FILES / "etl.py",
            "flink_entry": FILES / "flink" / "main.py", "flink_job": FILES / "flink" / "clicks",
            "connector_jar": FILES / "flink" / "connector.jar"}


class Collaborators:
    """The resources a snippet is given, made on first use (a stack gets only what it names)."""

    def __init__(self, stack: Stack, files: dict[str, Path]) -> None:
        self.stack, self.files, self.made = stack, files, {}

    def __getitem__(self, name: str):
        if name not in self.made:
            self.made[name] = self.files[name] if name in self.files else getattr(self, f"_{name}")()
        return self.made[name]

    def names(self) -> set[str]:
        return set(self.files) | {n[1:] for n in dir(self) if n.startswith("_") and not n.startswith("__")}

    def _key(self):
        return kms.Key(self.stack, "Key", enable_key_rotation=True)

    def _vpc(self):
        return ec2.Vpc(self.stack, "Vpc", availability_zones=["us-east-1a", "us-east-1b"], nat_gateways=0,
                       subnet_configuration=[ec2.SubnetConfiguration(
                           name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)])

    def _stream(self):
        return kinesis.Stream(self.stack, "Stream", encryption=kinesis.StreamEncryption.KMS,
                              encryption_key=self["key"])

    def _bucket(self):
        return s3.Bucket(self.stack, "Bucket", encryption=s3.BucketEncryption.KMS, encryption_key=self["key"],
                         enforce_ssl=True)

    def _access_logs(self):
        return s3.Bucket(self.stack, "AccessLogs", enforce_ssl=True)

    def _function(self):
        return lambda_.Function(self.stack, "Function", runtime=lambda_.Runtime.PYTHON_3_13, handler="index.handler",
                                code=lambda_.Code.from_inline("def handler(event, context):\n    return event\n"))

    def _role(self):
        return iam.Role(self.stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))

    def _topic(self):
        return sns.Topic(self.stack, "Topic")

    def _table(self):
        return dynamodb.Table(self.stack, "Table", partition_key=dynamodb.Attribute(
            name="id", type=dynamodb.AttributeType.STRING))

    def _database(self):
        return glue.CfnDatabase(self.stack, "Database", catalog_id=self.stack.account,
                                database_input=glue.CfnDatabase.DatabaseInputProperty(name="lake"))

    def _api(self):
        api = apigateway.RestApi(self.stack, "Api", cloud_watch_role=False)
        api.root.add_method("GET", apigateway.MockIntegration())
        return api


def logical_paths(stack: Stack) -> dict[str, str]:
    """Logical id -> construct path below the stack (path metadata would change the ids it hashes)."""
    prefix = stack.node.path + "/"
    return {stack.resolve(c.logical_id): c.node.path.removeprefix(prefix)
            for c in stack.node.find_all() if isinstance(c, CfnElement)}


def constructs_of(stack: Stack) -> dict[str, list]:
    """Every construct of `stack` by its path below the stack, with its metadata (type, data)."""
    prefix = stack.node.path + "/"
    return {c.node.path.removeprefix(prefix): [[m.type, json.loads(json.dumps(m.data, default=str))]
                                               for m in c.node.metadata if m.type != "aws:cdk:logicalId"]
            for c in stack.node.find_all() if c is not stack}


def build(app: App, name: str, snippet: str, files: dict[str, Path], *, last: bool) -> Stack:
    stack = Stack(app, name, env=ENV)
    body = ast.parse(snippet).body
    code = ast.Module(body=body if last else body[:-1], type_ignores=[])
    given = Collaborators(stack, files)
    used = {n.id for n in ast.walk(ast.Module(body=body, type_ignores=[])) if isinstance(n, ast.Name)}
    namespace = {"stack": stack, **NAMES}
    for collaborator in sorted(used & given.names()):   # the same order in both stacks
        namespace[collaborator] = given[collaborator]
    exec(compile(code, f"<{name}>", "exec"), namespace)  # noqa: S102  (the catalogue's own snippet)
    return stack


def main() -> None:
    app = App(outdir=CONFIG["outdir"], context={"aws:cdk:disable-stack-trace": True})
    files = write_files()
    results = {"repository_importable": importlib.util.find_spec("refarch") is not None, "modules": {}}
    built = {}
    for n, spec in enumerate(CONFIG["modules"]):
        names = {"reference": f"CopyRef{n:02}", "subject": f"CopyUse{n:02}"}
        result = results["modules"][spec["module"]] = {**names, "error": None}
        try:
            built[spec["module"]] = (build(app, names["reference"], spec["snippet"], files, last=False),
                                     build(app, names["subject"], spec["snippet"], files, last=True))
        except Exception:  # noqa: BLE001  (reported per copy; the others still synthesize)
            result["error"] = traceback.format_exc()
            for stack_name in names.values():
                app.node.try_remove_child(stack_name)
    app.synth()
    for module, (reference, subject) in built.items():
        results["modules"][module].update(
            reference_constructs=constructs_of(reference), subject_constructs=constructs_of(subject),
            reference_paths=logical_paths(reference), subject_paths=logical_paths(subject))
    Path(CONFIG["results"]).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
