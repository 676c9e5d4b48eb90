"""Synthesize the app once and run the gates over it (shared by CLI, demo and tests)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_cdk import App, Stack
from aws_cdk.cx_api import CloudAssembly

from refarch.application import build_app
from refarch.config import Settings
from refarch.gates import StackGateReport, check_stacks, stack_template


@dataclass
class Synthesis:
    app: App
    settings: Settings
    stacks: dict[str, Stack]
    assembly: CloudAssembly
    reports: list[StackGateReport]

    def template(self, stack: str) -> dict[str, Any]:
        return stack_template(self.assembly, self.stacks[stack])


def synthesize(context: Mapping[str, Any] | None = None, *, outdir: str | None = None,
               environ: Mapping[str, str] | None = None, gates: bool = True) -> Synthesis:
    app, settings, stacks = build_app(context, outdir=outdir, environ=environ)
    assembly = app.synth()
    reports = check_stacks(stacks, assembly) if gates else []
    return Synthesis(app, settings, stacks, assembly, reports)
