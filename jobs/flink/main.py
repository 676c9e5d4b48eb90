"""Entry point of the Flink SQL jobs on Managed Service for Apache Flink (runtime FLINK-1_20).

One file runs any job folder: it reads the job's SQL files, substitutes the ${...}
placeholders from runtime properties, creates the tables and views, and submits every
INSERT of the job together as one StatementSet (one Flink job, one read of the source).

Application zip layout (what the CDK construct packages; paths relative to the zip root):

    main.py                                          run option `python`
    <job>/cloud/*.sql     CREATE TABLE with the Kinesis connector (sources and sinks)
    <job>/views/*.sql     CREATE VIEW, created after the tables
    <job>/queries/*.sql   one INSERT INTO ... SELECT per file
    lib/flink-sql-connector-kinesis-5.0.0-1.20.jar   run option `jarfile`

That is the repository's jobs/flink/ folder with one job folder in it, plus the connector
jar. Every .sql file holds exactly one statement; files run in name order.

cloud/ is the only declaration of a job's tables. A local run derives its tables from it
(`local_table`): the same statement, columns, watermark and primary key as written, with
only the connector options of WITH (...) swapped for the filesystem connector's (the
format options stay, so local files hold what the streams hold) and PARTITIONED BY dropped
(for the filesystem connector it would mean one directory per key). A table an INSERT
writes is a sink, any other a source.

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

Local run (filesystem in and out, no AWS): the source reads the files under source.path
(source.path/<table> when a job has several sources), each sink writes output.path/<table>.

    python main.py --local --job streaming_log \
        --property source.path=/tmp/in --property output.path=/tmp/out
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PROPERTIES_FILE = Path("/etc/flink/application_properties.json")
PROPERTY_GROUP = "refarch.job"
MODES = ("cloud", "local")
TABLES, VIEWS, QUERIES = "cloud", "views", "queries"
SOURCE, SINK = "source", "sink"
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


# --- table DDL: what a local run keeps and what it swaps --------------------------------

@dataclass(frozen=True)
class Token:
    kind: str     # "word", "name" (a `quoted` identifier), "string" (a 'literal') or "punct"
    text: str     # a literal's or quoted name's content, doubled quotes undone
    start: int
    end: int


_WORD = re.compile(r"[A-Za-z_$][\w$]*|\d+")


def tokens(statement: str) -> Iterator[Token]:
    """The tokens of one Flink SQL statement; comments and white space are skipped."""
    i, n = 0, len(statement)
    while i < n:
        char = statement[i]
        if char.isspace():
            i += 1
        elif statement.startswith("--", i):
            end = statement.find("\n", i)
            i = n if end < 0 else end
        elif statement.startswith("/*", i):
            end = statement.find("*/", i + 2)
            i = n if end < 0 else end + 2
        elif char in "'`\"":
            parts, j = [], i + 1
            while True:
                end = statement.find(char, j)
                if end < 0:
                    raise JobConfigurationError(f"unterminated {char}...{char} at {statement[i:i + 40]!r}")
                parts.append(statement[j:end])
                if not statement.startswith(char, end + 1):
                    break
                parts.append(char)   # a doubled quote stands for one
                j = end + 2
            yield Token("string" if char == "'" else "name", "".join(parts), i, end + 1)
            i = end + 1
        elif match := _WORD.match(statement, i):
            yield Token("word", match.group(), i, match.end())
            i = match.end()
        else:
            yield Token("punct", char, i, i + 1)
            i += 1


@dataclass(frozen=True)
class TableDdl:
    """A CREATE TABLE statement in its parts. Spans are offsets into `statement`."""
    name: str
    statement: str
    columns: tuple[str, ...]                 # the column list's entries as written
    partitioned_by: tuple[str, ...]
    options: dict[str, str]                  # WITH (...), in the order written
    options_span: tuple[int, int]
    partition_span: tuple[int, int] | None

    def physical_columns(self) -> list[tuple[str, str]]:
        """(name, type as written) of the columns a row carries: not computed columns,
        the watermark or constraints."""
        found = []
        for entry in self.columns:
            words = list(tokens(entry))
            if words[0].text.upper() in ("WATERMARK", "PRIMARY", "CONSTRAINT") and words[0].kind == "word":
                continue
            if len(words) > 1 and words[1].kind == "word" and words[1].text.upper() == "AS":
                continue
            found.append((words[0].text, entry[words[1].start:].strip()))
        return found


def _closing(toks: list[Token], opening: int, where: str) -> int:
    """Index of the ')' that closes the '(' at toks[opening]."""
    depth = 0
    for index in range(opening, len(toks)):
        if toks[index].kind == "punct" and toks[index].text in "()":
            depth += 1 if toks[index].text == "(" else -1
            if depth == 0:
                return index
    raise JobConfigurationError(f"{where}: unbalanced parentheses")


def _is(token: Token | None, kind: str, *texts: str) -> bool:
    return token is not None and token.kind == kind and (not texts or token.text.upper() in texts)


def parse_table(statement: str, where: str) -> TableDdl:
    """CREATE [TEMPORARY] TABLE [IF NOT EXISTS] name (columns) [... PARTITIONED BY (keys)]
    [...] WITH ('key' = 'value', ...) [...]; a clause it does not know (COMMENT, LIKE,
    DISTRIBUTED BY) stays where it is."""
    try:
        toks = list(tokens(statement))
    except JobConfigurationError as error:
        raise JobConfigurationError(f"{where}: {error}") from None

    def at(index: int) -> Token | None:
        return toks[index] if index < len(toks) else None

    def fail(what: str, index: int) -> JobConfigurationError:
        found = "the end" if at(index) is None else repr(statement[toks[index].start:toks[index].start + 40])
        return JobConfigurationError(f"{where}: expected {what} in CREATE TABLE, found {found}")

    index = 0
    for keyword, optional in (("CREATE", False), ("TEMPORARY", True), ("TABLE", False)):
        if _is(at(index), "word", keyword):
            index += 1
        elif not optional:
            raise fail(keyword, index)
    if _is(at(index), "word", "IF"):
        for offset, keyword in enumerate(("IF", "NOT", "EXISTS")):
            if not _is(at(index + offset), "word", keyword):
                raise fail("IF NOT EXISTS", index + offset)
        index += 3
    while True:   # [catalog.][database.]name: the last part names the table
        if at(index) is None or toks[index].kind not in ("word", "name"):
            raise fail("a table name", index)
        name = toks[index].text
        if not _is(at(index + 1), "punct", "."):
            break
        index += 2
    opening = index + 1
    if not _is(at(opening), "punct", "("):
        raise fail(f"the column list of {name}", opening)
    closing = _closing(toks, opening, where)
    columns, first, depth = [], opening + 1, 0
    for index in range(opening + 1, closing + 1):
        token = toks[index]
        if index == closing or (depth == 0 and _is(token, "punct", ",")):
            if index > first:
                columns.append(statement[toks[first].start:toks[index - 1].end])
            first = index + 1
        elif _is(token, "punct", "(", ")"):
            depth += 1 if token.text == "(" else -1
    partitioned_by: tuple[str, ...] = ()
    partition_span = options_span = None
    options: dict[str, str] = {}
    index = closing + 1
    while index < len(toks):
        token = toks[index]
        if _is(token, "word", "PARTITIONED") and _is(at(index + 1), "word", "BY"):
            if not _is(at(index + 2), "punct", "("):
                raise fail("'(' after PARTITIONED BY", index + 2)
            end = _closing(toks, index + 2, where)
            partitioned_by = tuple(t.text for t in toks[index + 3:end] if t.kind in ("word", "name"))
            partition_span = (token.start, toks[end].end)
            index = end + 1
        elif _is(token, "word", "WITH"):
            if not _is(at(index + 1), "punct", "("):
                raise fail("'(' after WITH", index + 1)
            end = _closing(toks, index + 1, where)
            entry = index + 2
            while entry < end:
                key, equals, value, after = at(entry), at(entry + 1), at(entry + 2), entry + 3
                if not (_is(key, "string") and _is(equals, "punct", "=") and _is(value, "string")
                        and (after == end or _is(at(after), "punct", ","))):
                    raise fail(f"'key' = 'value' pairs in the WITH of {name}", entry)
                if key.text in options:
                    raise JobConfigurationError(f"{where}: table {name}: option {key.text!r} is set twice")
                options[key.text] = value.text
                entry = after + 1
            options_span = (token.start, toks[end].end)
            index = end + 1
        elif _is(token, "punct", "("):
            index = _closing(toks, index, where) + 1
        else:
            index += 1
    if options_span is None:
        raise JobConfigurationError(f"{where}: table {name} has no WITH (...) options")
    return TableDdl(name, statement, tuple(columns), partitioned_by, options, options_span, partition_span)


def insert_target(statement: str, where: str = "an INSERT") -> str:
    """The table an INSERT INTO|OVERWRITE [catalog.][database.]name writes."""
    toks = list(tokens(statement))
    if len(toks) < 3 or not (_is(toks[0], "word", "INSERT") and _is(toks[1], "word", "INTO", "OVERWRITE")):
        raise JobConfigurationError(f"{where}: expected INSERT INTO <table>, found {statement[:40]!r}")
    index = 2
    while index + 2 < len(toks) and _is(toks[index + 1], "punct", "."):
        index += 2
    if toks[index].kind not in ("word", "name"):
        raise JobConfigurationError(f"{where}: expected a table name after INSERT INTO")
    return toks[index].text


@dataclass(frozen=True)
class JobTable:
    where: str      # <job>/cloud/<file>.sql
    table: TableDdl
    role: str       # SOURCE or SINK: a table some INSERT writes is a sink


def job_tables(job_dir: Path | str) -> list[JobTable]:
    """The job's tables as cloud/ declares them (placeholders not filled), with their roles."""
    job_dir = Path(job_dir)
    sinks = {insert_target(read_statement(path, "INSERT"), f"{job_dir.name}/{QUERIES}/{path.name}")
             for path in sorted((job_dir / QUERIES).glob("*.sql"))}
    tables = []
    for path in sorted((job_dir / TABLES).glob("*.sql")):
        where = f"{job_dir.name}/{TABLES}/{path.name}"
        table = parse_table(read_statement(path, "CREATE"), where)
        tables.append(JobTable(where, table, SINK if table.name in sinks else SOURCE))
    return tables


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def local_table(table: TableDdl, path: str) -> str:
    """`table` on the filesystem connector at `path`: its statement with WITH (...) swapped
    for filesystem options plus the table's own format options, and PARTITIONED BY dropped."""
    fmt = table.options.get("format")
    kept = {k: v for k, v in table.options.items() if k == "format" or (fmt and k.startswith(f"{fmt}."))}
    options = {"connector": "filesystem", "path": path, **kept}
    listed = ",\n".join(f"  {_literal(k)} = {_literal(v)}" for k, v in options.items())
    spans = [(table.options_span, f"WITH (\n{listed}\n)")]
    if table.partition_span:
        spans.append((table.partition_span, ""))
    text = table.statement
    for (start, end), replacement in sorted(spans, reverse=True):   # the later span first: offsets hold
        text = " ".join(part for part in (text[:start].rstrip(), replacement, text[end:].lstrip()) if part)
    return text


def local_tables(job_dir: Path | str) -> list[tuple[str, str]]:
    """(where, statement) of the job's tables derived for a local run: a sink writes
    ${OUTPUT_PATH}/<table>; the source reads ${SOURCE_PATH} (${SOURCE_PATH}/<table> each,
    when the job has more than one)."""
    tables = job_tables(job_dir)
    several = sum(t.role == SOURCE for t in tables) > 1

    def path(t: JobTable) -> str:
        if t.role == SINK:
            return f"${{OUTPUT_PATH}}/{t.table.name}"
        return f"${{SOURCE_PATH}}/{t.table.name}" if several else "${SOURCE_PATH}"
    return [(f"{t.where} (derived for local mode)", local_table(t.table, path(t))) for t in tables]


def render_statements(job_dir: Path | str, mode: str,
                      properties: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(DDL, INSERTs) of a job folder for `mode` ("cloud" or "local"), placeholders filled.

    DDL: the tables of cloud/*.sql (derived by `local_tables` in local mode), then views/*.sql;
    INSERTs: queries/*.sql; each in file-name order.
    Raises JobConfigurationError naming every property a placeholder needs and lacks.
    """
    if mode not in MODES:
        raise JobConfigurationError(f"mode={mode!r}: allowed {', '.join(MODES)}")
    job_dir = Path(job_dir)
    for folder in (TABLES, QUERIES):
        if not sorted((job_dir / folder).glob("*.sql")):
            raise JobConfigurationError(f"job folder {job_dir} has no {folder}/*.sql")
    read = {folder: [(f"{job_dir.name}/{folder}/{path.name}", read_statement(path, kind))
                     for path in sorted((job_dir / folder).glob("*.sql"))]
            for folder, kind in ((TABLES, "CREATE"), (VIEWS, "CREATE"), (QUERIES, "INSERT"))}
    if mode == "local":
        read[TABLES] = local_tables(job_dir)
    values = {placeholder_name(k): str(v) for k, v in properties.items()}
    missing: list[str] = []
    rendered = {folder: [_substitute(statement, values, where, missing) for where, statement in items]
                for folder, items in read.items()}
    if missing:
        raise JobConfigurationError(f"missing runtime properties in group {PROPERTY_GROUP!r}: "
                                    + "; ".join(missing))
    return rendered[TABLES] + rendered[VIEWS], rendered[QUERIES]


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
