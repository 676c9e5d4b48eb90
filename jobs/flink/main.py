"""Entry point of the Flink SQL jobs on Managed Service for Apache Flink (runtime FLINK-1_20).

One file runs any job folder: it reads the job's SQL files, substitutes the ${...}
placeholders from runtime properties, creates the tables and views, and submits every
INSERT of the job together as one StatementSet (one Flink job, one read of the source).

Application zip layout (what the CDK construct packages; paths relative to the zip root):

    main.py                                          run option `python`
    <job>/cloud/*.sql     CREATE TABLE with the Kinesis connector (sources and sinks)
    <job>/local/*.sql     the same tables on the filesystem connector (local runs)
    <job>/views/*.sql     CREATE VIEW shared by both modes, created after the tables
    <job>/queries/*.sql   one INSERT INTO ... SELECT per file
    lib/flink-sql-connector-kinesis-5.0.0-1.20.jar   run option `jarfile`

That is the repository's jobs/flink/ folder with one job folder in it, plus the connector
jar. Every .sql file holds exactly one statement; files run in name order.

Runtime properties (group "refarch.job" in /etc/flink/application_properties.json):

    aws.region              region of the streams                     ${AWS_REGION}
    source.stream.arn       stream the job reads                      ${SOURCE_STREAM_ARN}
    source.init.position    LATEST (default), TRIM_HORIZON or AT_TIMESTAMP
    sink.<name>.stream.arn  one per sink table of the job, e.g. sink.pageviews.stream.arn
    source.idle.timeout     Flink duration, default "1 min": a shard or reader with no
                            records stops holding the watermark back after this long
    state.ttl               Flink duration, optional: how long keyed state that no window or
                            join cleans up (de-duplication keys) is kept after its last use
    job.name                job folder to run; optional when the zip holds only one

A property key maps to its placeholder by upper-casing it and turning '.' and '-' into
'_' (sink.ctr.stream.arn -> ${SINK_CTR_STREAM_ARN}); keys use no '_' so the mapping is
one-to-one. ${NAME:-default} takes the default when the property is absent.

Local run (filesystem in and out, no AWS):

    python main.py --local --job clickstream \
        --property source.path=/tmp/in --property output.path=/tmp/out
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PROPERTIES_FILE = Path("/etc/flink/application_properties.json")
PROPERTY_GROUP = "refarch.job"
MODES = ("cloud", "local")
VIEWS, QUERIES = "views", "queries"
DEFAULT_IDLE_TIMEOUT = "1 min"
PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)(?::-([^}]*))?\}")


class JobConfigurationError(ValueError):
    """A job folder, SQL file or runtime property is missing or wrong; the message names it."""


# --- properties ----------------------------------------------------------------------

def placeholder_name(key: str) -> str:
    """The ${...} name a property key fills: source.stream.arn -> SOURCE_STREAM_ARN."""
    return re.sub(r"[.\-]", "_", key).upper()


def property_key(name: str) -> str:
    """The property key that fills placeholder NAME (inverse of placeholder_name)."""
    return name.lower().replace("_", ".")


def read_properties(path: Path = PROPERTIES_FILE, group: str = PROPERTY_GROUP) -> dict[str, str]:
    """The PropertyMap of `group` from Managed Flink's application_properties.json."""
    try:
        groups = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise JobConfigurationError(f"no runtime properties file {path}") from None
    for entry in groups:
        if entry.get("PropertyGroupId") == group:
            return {str(k): str(v) for k, v in entry.get("PropertyMap", {}).items()}
    found = ", ".join(repr(e.get("PropertyGroupId")) for e in groups) or "none"
    raise JobConfigurationError(f"no property group {group!r} in {path} (groups: {found})")


# --- SQL files -----------------------------------------------------------------------

def split_statements(text: str) -> list[str]:
    """The statements of a SQL text, comments removed, split on ';' outside quotes."""
    statements, current, i, n = [], [], 0, len(text)
    while i < n:
        char = text[i]
        if char in "'`\"":                          # a literal or quoted identifier, as is
            end = i + 1
            while end < n and text[end] != char:
                end += 1
            current.append(text[i:end + 1])
            i = end + 1
        elif text.startswith("--", i):              # line comment
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif text.startswith("/*", i):              # block comment
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
            current.append(" ")
        elif char == ";":
            statements.append("".join(current))
            current = []
            i += 1
        else:
            current.append(char)
            i += 1
    statements.append("".join(current))
    return [s.strip() for s in statements if s.strip()]


def read_statement(path: Path, kind: str) -> str:
    """The one statement of a .sql file, which must start with `kind` (CREATE or INSERT)."""
    statements = split_statements(path.read_text())
    if len(statements) != 1:
        raise JobConfigurationError(f"{path} holds {len(statements)} statements; each .sql file holds exactly one")
    statement = statements[0]
    if statement.split(None, 1)[0].upper() != kind:
        raise JobConfigurationError(f"{path} must hold a {kind} statement, found: {statement[:40]!r}")
    return statement


def _substitute(statement: str, values: Mapping[str, str], where: str, missing: list[str]) -> str:
    def fill(match: re.Match) -> str:
        name, default = match.group(1), match.group(2)
        if name in values:
            value = values[name]
        elif default is not None:
            value = default
        else:
            missing.append(f"{property_key(name)!r} (placeholder ${{{name}}} in {where})")
            return match.group(0)
        if "'" in value:
            raise JobConfigurationError(f"runtime property {property_key(name)!r} contains a quote: {value!r}")
        return value
    return PLACEHOLDER.sub(fill, statement)


def render_statements(job_dir: Path | str, mode: str,
                      properties: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(DDL, INSERTs) of a job folder for `mode` ("cloud" or "local"), placeholders filled.

    DDL: <mode>/*.sql then views/*.sql; INSERTs: queries/*.sql; each in file-name order.
    Raises JobConfigurationError naming every property a placeholder needs and lacks.
    """
    if mode not in MODES:
        raise JobConfigurationError(f"mode={mode!r}: allowed {', '.join(MODES)}")
    job_dir = Path(job_dir)
    folders = {mode: "CREATE", VIEWS: "CREATE", QUERIES: "INSERT"}
    for folder in (mode, QUERIES):
        if not sorted((job_dir / folder).glob("*.sql")):
            raise JobConfigurationError(f"job folder {job_dir} has no {folder}/*.sql")
    values = {placeholder_name(k): str(v) for k, v in properties.items()}
    missing: list[str] = []
    rendered: dict[str, list[str]] = {}
    for folder, kind in folders.items():
        rendered[folder] = [
            _substitute(read_statement(path, kind), values, f"{job_dir.name}/{folder}/{path.name}", missing)
            for path in sorted((job_dir / folder).glob("*.sql"))]
    if missing:
        raise JobConfigurationError(f"missing runtime properties in group {PROPERTY_GROUP!r}: "
                                    + "; ".join(missing))
    return rendered[mode] + rendered[VIEWS], rendered[QUERIES]


def find_job_dir(root: Path = HERE, name: str | None = None) -> Path:
    """The job folder beside main.py: `name`, or the only folder that has queries/."""
    jobs = sorted(d.name for d in Path(root).iterdir() if (d / QUERIES).is_dir())
    if name:
        if name not in jobs:
            raise JobConfigurationError(f"job.name={name!r}: no such job folder in {root} (found: {', '.join(jobs) or 'none'})")
        return Path(root) / name
    if len(jobs) != 1:
        raise JobConfigurationError(f"{len(jobs)} job folders in {root} ({', '.join(jobs) or 'none'}): set job.name")
    return Path(root) / jobs[0]


# --- running -------------------------------------------------------------------------

def configure(table_env: Any, mode: str, properties: Mapping[str, Any], job_name: str) -> None:
    """Session settings: UTC windows; locally one task (a deterministic watermark order),
    in the cloud an idle timeout so an idle shard does not stall every window."""
    config = table_env.get_config()
    config.set("table.local-time-zone", "UTC")
    config.set("pipeline.name", f"refarch-{job_name}")
    if properties.get("state.ttl"):
        config.set("table.exec.state.ttl", str(properties["state.ttl"]))
    if mode == "local":
        config.set("parallelism.default", "1")
    else:
        config.set("table.exec.source.idle-timeout",
                   str(properties.get("source.idle.timeout", DEFAULT_IDLE_TIMEOUT)))


def submit(table_env: Any, ddl: Sequence[str], inserts: Sequence[str]) -> Any:
    """Create the tables and views, then submit all INSERTs as one job; the TableResult."""
    for statement in ddl:
        table_env.execute_sql(statement)
    statement_set = table_env.create_statement_set()
    for statement in inserts:
        statement_set.add_insert_sql(statement)
    return statement_set.execute()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--local", action="store_true", help="filesystem tables; wait for the end of input")
    parser.add_argument("--job", help="job folder (default: property job.name, or the only one)")
    parser.add_argument("--property", action="append", default=[], metavar="KEY=VALUE",
                        help="a runtime property (repeatable); overrides the properties file")
    parser.add_argument("--properties-file", type=Path,
                        help=f"application_properties.json (cloud default: {PROPERTIES_FILE})")
    args = parser.parse_args(argv)
    mode = "local" if args.local else "cloud"
    properties: dict[str, str] = {}
    if args.properties_file or mode == "cloud":
        properties.update(read_properties(args.properties_file or PROPERTIES_FILE))
    for item in args.property:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--property {item!r}: expected KEY=VALUE")
        properties[key] = value
    job_dir = find_job_dir(HERE, args.job or properties.get("job.name"))
    ddl, inserts = render_statements(job_dir, mode, properties)

    from pyflink.table import EnvironmentSettings, TableEnvironment

    table_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    configure(table_env, mode, properties, job_dir.name)
    result = submit(table_env, ddl, inserts)
    if mode == "local":
        result.wait()   # in the cloud the service keeps the submitted job running


if __name__ == "__main__":
    main(sys.argv[1:])
