"""Local runs: each pattern's data path driven on this machine, returning a report.

  <pattern>.py  a pattern's run: one function taking its settings and a size and returning its
                report, composed, as its stack is, of the parts below
  generators/   seeded sample data, each saying what it injected
  engines/      what stands in for the AWS services: local Spark (Glue), DuckDB after sqlglot
                (Athena, Redshift), moto, Lambda handlers called with the services' event shapes;
                Flink SQL on PyFlink is flink_sql.py, with each job's own adtech_job.py and
                streaming_log_job.py
  reports/      each run's report: its counts, the check that they add up, its lines of text
  demo.py       `refarch demo`: every run at its demo size; refarch.render prints the reports
"""
