"""The engines a local run drives in this process, in place of the AWS services: local Spark for
Glue, DuckDB (after sqlglot) for Athena and Redshift SQL, moto for the AWS APIs, and Lambda
handlers called as the service calls them. Flink SQL on PyFlink is refarch.local.flink_sql."""
