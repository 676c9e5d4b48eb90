"""A search index's strict mapping, applied locally: why the index would refuse a document (a
field it does not map, or a value not of the mapped type), as OpenSearch does under
`"dynamic": "strict"`; Firehose would send such a document to its error output."""

from __future__ import annotations

import re
from typing import Any

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z?$")


def mapping_problems(document: dict[str, Any], mapping: dict[str, Any]) -> list[str]:
    """Why the strictly mapped index would refuse `document` (empty: it would index it)."""
    properties = mapping["properties"]
    problems = [f"unmapped field {name!r}" for name in document if name not in properties]
    for name, value in document.items():
        kind = properties.get(name, {}).get("type")
        if value is None or kind is None:
            continue
        if kind == "keyword" and (not isinstance(value, str) or len(value) > properties[name]["ignore_above"]):
            problems.append(f"{name}: {value!r} is not a keyword of at most {properties[name]['ignore_above']}")
        elif kind == "integer" and not (isinstance(value, int) and not isinstance(value, bool)
                                        and -2**31 <= value < 2**31):
            problems.append(f"{name}: {value!r} is not an integer")
        elif kind == "boolean" and not isinstance(value, bool):
            problems.append(f"{name}: {value!r} is not a boolean")
        elif kind == "date" and not (isinstance(value, str) and _DATE.match(value)):
            problems.append(f"{name}: {value!r} matches none of the formats {properties[name]['format']}")
    return problems
