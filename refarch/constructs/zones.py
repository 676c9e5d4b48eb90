"""Availability zones named by the user: zone names (us-east-1a) or zone ids (use1-az1).

A zone name maps to a different physical zone in each account; a zone id is the same
everywhere. Naming zones matters because some interface endpoint services are not offered
in every zone of a region.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

MAX_AZS = 3  # every commercial region has at least three
_NAME = re.compile(r"^(?P<region>[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d+)[a-z]$")
_ID = re.compile(r"^(?P<prefix>[a-z]{3,6}\d+)-az\d{1,2}$")
_DIRECTIONS = {"north": "n", "south": "s", "east": "e", "west": "w", "central": "c",
               "northeast": "ne", "northwest": "nw", "southeast": "se", "southwest": "sw"}


def zone_kind(zones: Sequence[str]) -> str:
    """'name' or 'id', when every zone is of that kind; ValueError otherwise."""
    if zones and all(_NAME.match(z) for z in zones):
        return "name"
    if zones and all(_ID.match(z) for z in zones):
        return "id"
    raise ValueError(f"zones {list(zones)}: all zone names (us-east-1a) or all zone ids (use1-az1)")


def zone_id_prefix(region: str) -> str:
    """The prefix of a region's zone ids: us-east-1 -> use1, ap-southeast-2 -> apse2."""
    parts = region.split("-")
    area, number = parts[0], parts[-1]
    middle = parts[1:-1]
    gov = "g" if middle[:1] == ["gov"] else ""
    directions = [p for p in middle if p != "gov"]
    return area + gov + "".join(_DIRECTIONS.get(p, p[:1]) for p in directions) + number


def zones_outside(region: str, zones: Sequence[str]) -> list[str]:
    """The zones of `zones` that do not belong to `region`."""
    kind = zone_kind(zones)
    if kind == "name":
        return [z for z in zones if _NAME.match(z)["region"] != region]
    return [z for z in zones if _ID.match(z)["prefix"] != zone_id_prefix(region)]
