"""What a smoke check found: one line per step of a pattern's data path."""

from __future__ import annotations

from dataclasses import dataclass, field

ARRIVED = "arrived"
MISSING = "missing"
NOT_RUNNABLE = "not runnable here"


@dataclass(frozen=True)
class Step:
    name: str
    status: str          # ARRIVED, MISSING or NOT_RUNNABLE
    detail: str          # what arrived; what is missing; or why this target cannot run the step

    def __post_init__(self) -> None:
        if self.status not in (ARRIVED, MISSING, NOT_RUNNABLE):
            raise ValueError(f"Step status {self.status!r}: allowed {ARRIVED}, {MISSING}, {NOT_RUNNABLE}")


@dataclass
class SmokeReport:
    stack: str
    target: str
    steps: list[Step] = field(default_factory=list)

    def add(self, name: str, status: str, detail: str) -> Step:
        step = Step(name, status, detail)
        self.steps.append(step)
        return step

    def arrived(self, name: str, detail: str) -> Step:
        return self.add(name, ARRIVED, detail)

    def missing(self, name: str, detail: str) -> Step:
        return self.add(name, MISSING, detail)

    def not_runnable(self, name: str, why: str) -> Step:
        return self.add(name, NOT_RUNNABLE, why)

    def expect(self, name: str, ok: bool, arrived: str, missing: str) -> Step:
        return self.arrived(name, arrived) if ok else self.missing(name, missing)

    @property
    def passed(self) -> bool:
        """Everything the target can run arrived (and at least one step ran)."""
        return any(s.status == ARRIVED for s in self.steps) and not any(s.status == MISSING for s in self.steps)

    def step(self, name: str) -> Step:
        return next(s for s in self.steps if s.name == name)
