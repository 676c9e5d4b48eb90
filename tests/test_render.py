"""refarch.render: the tables and lines refarch synth, demo and smoke print."""

from __future__ import annotations

from types import SimpleNamespace

from rich.console import Console

from refarch.local.engines.duckdb_sql import QueryResult
from refarch.render import print_gate_table, print_run_report, print_smoke_report
from refarch.smoke.report import SmokeReport


def recording() -> Console:
    return Console(record=True, width=200, color_system=None)


def test_a_run_report_prints_its_lines_a_preview_of_each_query_and_its_time():
    report = SimpleNamespace(
        summary_lines=lambda: ["sent 3", "[not markup] written 3"],
        queries=[QueryResult("daily", "per day", ("day", "rows"), tuple((f"d{n}", n) for n in range(7)))])
    console = recording()
    print_run_report(report, console, seconds=1.25, preview_rows=2)
    assert console.export_text().splitlines() == [
        "sent 3", "[not markup] written 3", "  daily:", "    day  rows", "    d0   0", "    d1   1",
        "    ... 5 more rows", "(1.2 s)"]


def test_the_gate_table_marks_a_failing_stack_and_lists_its_findings():
    failing = SimpleNamespace(stack="Lake", resources=7, nag=["AwsSolutions-S1: no access logs"], acknowledged=[],
                              lint=[], checkov=[], checkov_skips=["CKV_AWS_18"], reach=[], iam=[], passed=False)
    console = recording()
    print_gate_table([failing], console)
    text = console.export_text()
    row = next(line for line in text.splitlines() if "Lake" in line and "FAIL" in line)
    assert [cell.strip() for cell in row.strip("│ ").split("│")] == ["Lake", "7", "1", "0", "0", "0", "1", "0", "0",
                                                                    "FAIL"]
    assert "  Lake: AwsSolutions-S1: no access logs" in text.splitlines()


def test_a_smoke_report_shows_record_text_inert():
    report = SmokeReport(stack="IotTelemetry", target="localstack")
    report.arrived("[red]table[/]", "2 items\x1b[2J")
    console = recording()
    print_smoke_report(report, console)
    text = console.export_text()
    assert "[red]table[/]" in text and "2 items\\x1b[2J" in text


def test_a_finding_that_looks_like_markup_is_printed_as_written():
    # A resource path in a finding ([/aws/lambda/x]) once raised rich's MarkupError and aborted synth.
    failing = SimpleNamespace(stack="Lake", resources=1, nag=["W1 [/aws/lambda/x] and [bold]not bold[/]\x1b[2J"],
                              acknowledged=[], lint=[], checkov=[], checkov_skips=[], reach=[], iam=[], passed=False)
    console = recording()
    print_gate_table([failing], console)
    assert "  Lake: W1 [/aws/lambda/x] and [bold]not bold[/]\\x1b[2J" in console.export_text().splitlines()
