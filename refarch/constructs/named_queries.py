"""Athena named queries from a folder of .sql files, in an existing workgroup."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import aws_athena as athena
from constructs import Construct

from refarch.constructs.athena import read_named_queries


class NamedQueries(Construct):
    """One AWS::Athena::NamedQuery per `<name>.sql` of `folder`, run against `database`."""

    def __init__(self, scope: Construct, id: str, *, workgroup: str, database: str, folder: Path) -> None:
        super().__init__(scope, id)
        self.queries = {query.name: athena.CfnNamedQuery(self, query.name, name=query.name,
                                                         description=query.description, database=database,
                                                         query_string=query.sql, work_group=workgroup)
                        for query in read_named_queries(folder)}
