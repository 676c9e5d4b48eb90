"""The Kinesis SQL connector's documented table options, declared, and a check of a job's cloud tables.

The cloud tables (jobs/flink/<job>/cloud/*.sql) name the `kinesis` connector of the jar that
jobs/flink/connector.lock pins. That factory exists only on Managed Flink, so no local run can
plan the cloud DDL; and even there it would not catch a misspelt option: the connector leaves
every key under `aws.`, `source.` and `sink.` unvalidated (its factories' "non-validated
prefixes"), so 'source.init.postion' would silently start the job at LATEST. This module holds
what the connector's documentation says (required keys, allowed keys per role, enumerations and
the documented rules between options) and checks every cloud table against it; the test suite
runs the check on every job (tests/flink/test_connector_options.py).

Source: flink-connector-aws, docs/content/docs/connectors/table/kinesis.md, "Connector Options"
of the `kinesis` connector (the FLIP-27 source and the async sink that 5.0.0 introduced; the
legacy options under `scan.` belong to `kinesis-legacy`), with the enumerations its option
descriptions and "Authentication" section list, and the "Sink Partitioning" rule. Format
options (`json.*`, `raw.*`) are the format's, not the connector's: the check asks `format_options`
for them (tests pass the keys of local Flink's own format factories, which the cloud runtime's
Flink 1.20 shares), and the local run plans the same format options, which checks their values.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from refarch.local.flink_sql import load_entry

CONNECTOR_VERSION = "5.0.0-1.20"   # the connector.lock version this declaration was read for
SOURCE, SINK = "source", "sink"
BOTH = frozenset((SOURCE, SINK))
PLACEHOLDER = re.compile(r"\$\{[A-Z][A-Z0-9_]*(?::-([^}]*))?\}")


@dataclass(frozen=True)
class Option:
    key: str
    roles: frozenset[str] = BOTH
    required: bool = False
    values: tuple[str, ...] = ()      # an enumeration's allowed values, as the connector spells them


CREDENTIAL_PROVIDERS = ("AUTO", "BASIC", "ENV_VAR", "SYS_PROP", "PROFILE", "ASSUME_ROLE",
                        "WEB_IDENTITY_TOKEN", "CUSTOM")
BOOLEAN = ("true", "false")


def _role(role: str, *options: Option) -> tuple[Option, ...]:
    return tuple(Option(o.key, frozenset((role,)), o.required, o.values) for o in options)


KINESIS: dict[str, Option] = {o.key: o for o in (
    Option("connector", required=True, values=("kinesis",)),
    Option("stream.arn", required=True),
    Option("aws.region", required=True),
    Option("format", required=True),
    Option("aws.endpoint"),
    Option("aws.trust.all.certificates", values=BOOLEAN),
    Option("aws.credentials.provider", values=CREDENTIAL_PROVIDERS),
    Option("aws.credentials.basic.accesskeyid"),
    Option("aws.credentials.basic.secretkey"),
    Option("aws.credentials.profile.path"),
    Option("aws.credentials.profile.name"),
    Option("aws.credentials.role.arn"),
    Option("aws.credentials.role.sessionName"),
    Option("aws.credentials.role.externalId"),
    Option("aws.credentials.role.stsEndpoint"),
    Option("aws.credentials.role.provider", values=CREDENTIAL_PROVIDERS),
    Option("aws.credentials.webIdentityToken.file"),
    Option("aws.credentials.custom.class"),
    *_role(SOURCE,
           Option("source.init.position", values=("LATEST", "TRIM_HORIZON", "AT_TIMESTAMP")),
           Option("source.init.timestamp"),
           Option("source.init.timestamp.format"),
           Option("source.shard.discovery.interval"),
           Option("source.reader.type", values=("POLLING", "EFO")),
           Option("source.shard.get-records.max-record-count"),
           Option("source.efo.consumer.name"),
           Option("source.efo.lifecycle", values=("JOB_MANAGED", "SELF_MANAGED")),
           Option("source.efo.subscription.timeout"),
           Option("source.efo.deregister.timeout"),
           Option("source.efo.describe.retry-strategy.attempts.max"),
           Option("source.efo.describe.retry-strategy.delay.min"),
           Option("source.efo.describe.retry-strategy.delay.max")),
    *_role(SINK,
           Option("sink.partitioner"),
           Option("sink.partitioner-field-delimiter"),
           Option("sink.http-client.max-concurrency"),
           Option("sink.http-client.read-timeout"),
           Option("sink.http-client.protocol.version"),
           Option("sink.batch.max-size"),
           Option("sink.requests.max-inflight"),
           Option("sink.requests.max-buffered"),
           Option("sink.flush-buffer.size"),
           Option("sink.flush-buffer.timeout"),
           Option("sink.fail-on-error", values=BOOLEAN)),
)}

# (format, role) -> the format's own option keys, without the "<format>." prefix; None when
# there is no such format.
FormatOptions = Callable[[str, str], "set[str] | None"]


class ConnectorOptionsError(ValueError):
    """A cloud table's connector options break the connector's documented options."""


def static_value(value: str) -> str | None:
    """What a value will be once main.py fills its placeholders, as far as the file says:
    the value itself, the default of a lone ${NAME:-default}, or None (set at runtime)."""
    match = PLACEHOLDER.fullmatch(value)
    if match:
        return match.group(1)
    return None if PLACEHOLDER.search(value) else value


def check_table(table: Any, role: str, where: str, *, format_options: FormatOptions | None = None) -> list[str]:
    """Every way `table` (main.TableDdl, a `role` table) breaks the documented options; each
    message names the file, the table and the option."""
    options: dict[str, str] = table.options
    at = f"{where}: table {table.name} ({role})"
    connector = options.get("connector")
    if connector != "kinesis":
        return [f"{at}: option 'connector' = {connector!r}: a cloud table uses 'kinesis' "
                "(the connector the application zip ships)"]
    problems = [f"{at}: required option {o.key!r} is missing"
                for o in KINESIS.values() if o.required and role in o.roles and o.key not in options]
    fmt = static_value(options.get("format", "")) or None   # a format set at runtime: keys unchecked
    own_keys = format_options(fmt, role) if format_options and fmt else None
    if format_options and fmt and own_keys is None:
        problems.append(f"{at}: option 'format' = {fmt!r}: no such {role} format in Flink")
    allowed = [k for k, o in KINESIS.items() if role in o.roles] + [f"{fmt}.{k}" for k in own_keys or ()]
    for key, value in options.items():
        option = KINESIS.get(key)
        if option is None and fmt and key.startswith(f"{fmt}."):
            if own_keys is not None and key.removeprefix(f"{fmt}.") not in own_keys:
                problems.append(f"{at}: unknown option {key!r} of format {fmt!r}{_did_you_mean(key, allowed)}")
            continue
        if option is None:
            problems.append(f"{at}: unknown option {key!r}{_did_you_mean(key, allowed)}")
        elif role not in option.roles:
            problems.append(f"{at}: option {key!r} applies to a {' or '.join(sorted(option.roles))} table only")
        elif option.values and (static := static_value(value)) is not None and static not in option.values:
            problems.append(f"{at}: option {key!r} = {static!r}: allowed {', '.join(option.values)}")
    if static_value(options.get("source.init.position", "")) == "AT_TIMESTAMP" \
            and "source.init.timestamp" not in options:
        problems.append(f"{at}: option 'source.init.position' = 'AT_TIMESTAMP' needs 'source.init.timestamp'")
    providers = [options.get(k) for k in ("aws.credentials.provider", "aws.credentials.role.provider")]
    if "CUSTOM" in {static_value(p) for p in providers if p} and "aws.credentials.custom.class" not in options:
        problems.append(f"{at}: a CUSTOM credentials provider needs 'aws.credentials.custom.class'")
    if table.partitioned_by and "sink.partitioner" in options:
        problems.append(f"{at}: option 'sink.partitioner' cannot be set on a table PARTITIONED BY "
                        f"({', '.join(table.partitioned_by)}): its rows are keyed by those columns")
    return problems


def _did_you_mean(key: str, allowed: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(allowed), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_job(job_dir: Path, *, format_options: FormatOptions | None = None) -> list[str]:
    """The problems of every cloud table of the job folder (empty when all is well)."""
    entry = load_entry()
    return [problem for t in entry.job_tables(job_dir)
            for problem in check_table(t.table, t.role, t.where, format_options=format_options)]


def require_valid(job_dir: Path, *, format_options: FormatOptions | None = None) -> None:
    problems = check_job(job_dir, format_options=format_options)
    if problems:
        raise ConnectorOptionsError(f"{len(problems)} connector option problem(s):\n  " + "\n  ".join(problems))
