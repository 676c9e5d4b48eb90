"""The warehouse's SQL files: read them in order, fill in `${NAME}` placeholders, check that
each holds exactly one statement, and pick the ones an event asks for.

Pure functions (no AWS, no sqlglot: the Lambda runtime has neither the need nor the package);
refarch/local/warehouse.py uses the same functions, so the local run executes exactly what the
Lambda would send.

The statements live in two subfolders, one per phase, run in this order:
  setup/  idempotent DDL (schemas, tables, the Spectrum external schema) and the loader's database
          user with its grants, run one by one as the admin, each committed on its own (external
          DDL is not safe inside a transaction block), at deploy, by the setup function
  load/   the reload (symbols dimension, staging, COPY, delete loaded dates, insert), run as ONE
          transaction, as the loader's user, so readers never see a day or a dimension half-replaced
The files are `NN_name.sql` (a two-digit order, then lower-case words) and the order runs on
across both folders (every setup order is lower than every load order), so a name says where
a statement runs, and sorted by name the statements are in run order. Only setup/ and load/ are
read: the analytic queries in `queries/` are never run by the loader, and a *.sql file left
directly in the folder is refused rather than silently skipped.

A statement Redshift cannot make idempotent itself (CREATE USER has no IF NOT EXISTS) carries a
guard in its comments, `-- skip-if: SELECT ...`: the runner sends that query first and skips the
statement when it returns a row. A guard is one SELECT on one line; one per file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

SETUP, LOAD = "setup", "load"
PHASES = (SETUP, LOAD)          # the subfolders, in run order
FILE_NAME = re.compile(r"^(?P<order>[0-9]{2})_[a-z0-9]+(?:_[a-z0-9]+)*$")
PLACEHOLDER = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)\}")
GUARD = re.compile(r"^--[ \t]*skip-if:[ \t]*(?P<query>.*?)[ \t]*$")
# Values go inside SQL string literals ('s3://${CURATED_BUCKET}/...'): bucket names, ARNs and Glue
# database names only ever use these characters, and none of them can end a literal.
SAFE_VALUE = re.compile(r"^[A-Za-z0-9._:/+=,@-]+$")


class Statement(NamedTuple):
    phase: str      # SETUP or LOAD: the subfolder it came from
    name: str       # the file name without .sql (unique across phases)
    sql: str
    guard: str | None = None   # a SELECT: when it returns a row, the statement is skipped


class SqlFileError(ValueError):
    """A SQL file, or the set of them, cannot be run as it is."""


class MissingVariableError(SqlFileError):
    """A placeholder has no value."""


def sql_files(folder: Path | str) -> list[tuple[str, Path]]:
    """(phase, path) of every statement file under `folder`, in run order (phase, then name).

    Raises SqlFileError for a missing or empty phase folder, or *.sql files directly in `folder`
    (the layout before the phases: they would otherwise never run)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SqlFileError(f"no SQL folder {folder}")
    stray = sorted(path.name for path in folder.glob("*.sql") if path.is_file())
    if stray:
        raise SqlFileError(f"{', '.join(stray)} in {folder}: statement files belong in {SETUP}/ (DDL, run one by"
                           f" one) or {LOAD}/ (the reload, run as one transaction)")
    files = []
    for phase in PHASES:
        paths = sorted(path for path in (folder / phase).glob("*.sql") if path.is_file())
        if not paths:
            raise SqlFileError(f"no *.sql files in {folder / phase}")
        files.extend((phase, path) for path in paths)
    return files


def load_statements(folder: Path | str, variables: Mapping[str, str],
                    phases: Sequence[str] = PHASES) -> list[Statement]:
    """The statements of `folder`/setup/*.sql then `folder`/load/*.sql (of `phases` only: the setup
    function runs one, the loader the other), in run order, placeholders filled in from `variables`.

    Each file must hold exactly one statement; its text is kept (leading `--` description
    included, so the query history shows which file ran) up to the terminating semicolon.
    Orders are unique across both phases and every setup order precedes every load order (checked
    on every file, whichever phases are asked for). Every problem in every file is reported at
    once, naming the file.
    """
    unknown = [phase for phase in phases if phase not in PHASES]
    if unknown or not phases:
        raise SqlFileError(f"phases {list(phases)!r}: allowed a non-empty selection of {', '.join(PHASES)}")
    folder = Path(folder)
    files = sql_files(folder)
    problems: list[str] = []
    missing: dict[str, list[str]] = {}
    orders: dict[str, tuple[str, str]] = {}   # order -> (phase, "phase/file.sql")
    statements: list[Statement] = []
    for phase, path in files:
        name, where = path.stem, f"{phase}/{path.name}"
        match = FILE_NAME.match(name)
        if not match:
            problems.append(f"{where}: the name must be NN_words.sql (two-digit order, lower-case words and _)")
            continue
        if match["order"] in orders:
            problems.append(f"{where}: order {match['order']} is already used by {orders[match['order']][1]}")
            continue
        orders[match["order"]] = (phase, where)
        if phase not in phases:
            continue
        try:
            statements.append(read_statement(phase, path, variables))
        except MissingVariableError as error:
            for variable in error.args[1]:
                missing.setdefault(variable, []).append(path.name)
        except SqlFileError as error:
            problems.append(str(error))
    problems += _phase_order_problems(orders)
    for variable, files_ in sorted(missing.items()):
        problems.append(f"placeholder ${{{variable}}} (in {', '.join(files_)}) has no value:"
                        f" set the environment variable {variable}")
    if problems:
        raise SqlFileError(f"{len(problems)} problem(s) with the SQL files in {folder}: " + "; ".join(problems))
    return statements


def _phase_order_problems(orders: Mapping[str, tuple[str, str]]) -> list[str]:
    """The file-name order is the run order only if no load file is numbered before a setup file."""
    setup = [(order, where) for order, (phase, where) in orders.items() if phase == SETUP]
    if not setup:
        return []
    last_order, last_where = max(setup)
    return [f"{where}: order {order} is not after {last_where} (setup runs before load: number the load"
            " files after the setup files)"
            for order, (phase, where) in sorted(orders.items()) if phase == LOAD and order < last_order]


def read_statement(phase: str, path: Path, variables: Mapping[str, str]) -> Statement:
    """One file as a Statement: placeholders filled in, its one statement and its guard."""
    text = substitute(path.read_text(encoding="utf-8"), variables, source=path.name)
    return Statement(phase, path.stem, single_statement(text, source=path.name), guard(text, source=path.name))


def guard(text: str, *, source: str = "<sql>") -> str | None:
    """The `-- skip-if: SELECT ...` query in the comments of `text`, or None. Raises SqlFileError
    for two guards, an empty one, or one that is not a single SELECT (a guard must change nothing)."""
    found = [match["query"] for kind, start, end in _scan(text, source)
             if kind == "comment" and (match := GUARD.match(text[start:end]))]
    if not found:
        return None
    if len(found) > 1:
        raise SqlFileError(f"{source}: {len(found)} skip-if guards: one per file")
    query = found[0]
    if not re.match(r"SELECT\b", query, re.IGNORECASE) or list(_statement_ends(query, source)):
        raise SqlFileError(f"{source}: the skip-if guard must be one SELECT without a semicolon, got {query!r}")
    return query


def substitute(text: str, variables: Mapping[str, str], *, source: str = "<sql>") -> str:
    """`text` with every `${NAME}` replaced by variables[NAME].

    A name without a (non-empty) value raises MissingVariableError(message, names); a value
    that could break out of a SQL literal, or a `${` that is not a well-formed placeholder,
    raises SqlFileError.
    """
    names = sorted({match["name"] for match in PLACEHOLDER.finditer(text)})
    absent = [name for name in names if not str(variables.get(name) or "").strip()]
    if absent:
        raise MissingVariableError(
            f"{source}: no value for placeholder(s) " + ", ".join(f"${{{name}}}" for name in absent), absent)
    for name in names:
        value = str(variables[name]).strip()
        if not SAFE_VALUE.match(value):
            raise SqlFileError(f"{source}: the value of ${{{name}}} ({value!r}) may only contain letters,"
                               " digits and . _ : / + = , @ -")
    result = PLACEHOLDER.sub(lambda match: str(variables[match["name"]]).strip(), text)
    leftover = result.find("${")
    if leftover >= 0:
        line = result.count("\n", 0, leftover) + 1
        raise SqlFileError(f"{source}: line {line}: '${{' that is not a placeholder like ${{NAME}}")
    return result


def single_statement(text: str, *, source: str = "<sql>") -> str:
    """The one statement in `text`, without its terminating semicolon or what follows it
    (whitespace and comments only). Raises SqlFileError for none, or for more than one."""
    ends = list(_statement_ends(text, source))
    body = text[:ends[0]] if ends else text
    rest = text[ends[0] + 1:] if ends else ""
    if not _code(body, source).strip():
        raise SqlFileError(f"{source}: no SQL statement (only comments or blanks)")
    if _code(rest, source).strip():
        raise SqlFileError(f"{source}: more than one SQL statement: one statement per file")
    return body.strip()


def select_statements(statements: Sequence[Statement], names: Iterable[str] | None) -> list[Statement]:
    """The statements named in `names` (file names without .sql, from either phase), in run
    order; all when None."""
    if names is None:
        return list(statements)
    wanted = list(names)
    known = [statement.name for statement in statements]
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise SqlFileError("unknown statement(s) " + ", ".join(repr(name) for name in unknown)
                           + "; known: " + ", ".join(known))
    repeated = sorted({name for name in wanted if wanted.count(name) > 1})
    if repeated:
        raise SqlFileError("statement(s) named more than once: " + ", ".join(repeated))
    return [statement for statement in statements if statement.name in wanted]


def phase_statements(statements: Sequence[Statement], phase: str) -> list[Statement]:
    """The statements of one phase, in run order."""
    return [statement for statement in statements if statement.phase == phase]


# --- a small lexer: where statements end, and the text without comments -------------------

def _scan(text: str, source: str):
    """Yield (kind, start, end) for every lexical piece that matters: 'code' characters,
    'comment' and 'quoted' spans. Single-quoted literals ('' and backslash escapes), double-quoted
    identifiers, $tag$ dollar quotes, -- line comments and /* */ comments are understood."""
    index, length = 0, len(text)
    while index < length:
        char = text[index]
        if text.startswith("--", index):
            end = text.find("\n", index)
            end = length if end < 0 else end
            yield "comment", index, end
            index = end
        elif text.startswith("/*", index):
            end = text.find("*/", index + 2)
            if end < 0:
                raise SqlFileError(f"{source}: a /* comment is not closed")
            yield "comment", index, end + 2
            index = end + 2
        elif char in "'\"":
            end = index + 1
            while True:
                if end >= length:
                    raise SqlFileError(f"{source}: a {char} quote is not closed")
                if char == "'" and text[end] == "\\":
                    end += 2
                    continue
                if text[end] == char:
                    if end + 1 < length and text[end + 1] == char:   # doubled quote: an escaped one
                        end += 2
                        continue
                    break
                end += 1
            yield "quoted", index, end + 1
            index = end + 1
        elif char == "$" and (tag := re.match(r"\$[A-Za-z_]*\$", text[index:])):
            end = text.find(tag.group(), index + len(tag.group()))
            if end < 0:
                raise SqlFileError(f"{source}: a {tag.group()} quote is not closed")
            yield "quoted", index, end + len(tag.group())
            index = end + len(tag.group())
        else:
            yield "code", index, index + 1
            index += 1


def _statement_ends(text: str, source: str):
    for kind, start, _ in _scan(text, source):
        if kind == "code" and text[start] == ";":
            yield start


def _code(text: str, source: str) -> str:
    """`text` without its comments (quoted spans kept)."""
    return "".join(text[start:end] for kind, start, end in _scan(text, source) if kind != "comment")


# --- streaming ingestion setup (sql/streaming/setup/, run on request, not by loads) ----------

STREAMING_SETUP = ("streaming", "setup")


def streaming_statements(folder: Path | str, variables: Mapping[str, str]) -> list[Statement]:
    """The statements of `folder`/streaming/setup/*.sql, in name order, as setup statements (run one
    by one, each committed on its own), placeholders filled in from `variables`.

    A load never runs them: they create a stream's external schema and its materialized view once,
    when the stack that owns the stream asks (the view holds what it ingested; re-creating it would
    re-read only what the stream still retains)."""
    directory = Path(folder).joinpath(*STREAMING_SETUP)
    paths = sorted(path for path in directory.glob("*.sql") if path.is_file())
    if not paths:
        raise SqlFileError(f"no *.sql files in {directory}")
    statements, problems = [], []
    for path in paths:
        if not FILE_NAME.match(path.stem):
            problems.append(f"streaming/setup/{path.name}: the name must be NN_words.sql")
            continue
        try:
            statements.append(read_statement(SETUP, path, variables))
        except SqlFileError as error:
            problems.append(str(error))
    if problems:
        raise SqlFileError(f"{len(problems)} problem(s) with the streaming SQL in {directory}: " + "; ".join(problems))
    return statements
