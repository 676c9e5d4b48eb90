"""Seeded sample data for the local runs and smoke checks: the same seed gives the same data,
and each generator says what it injected, so a run's report can be checked against it."""
