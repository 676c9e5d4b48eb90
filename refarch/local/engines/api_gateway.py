"""The collection API's edge, locally: each post validated against the API's JSON-schema model
(jsonschema, draft 4, what API Gateway applies); a refused post is a 400 with the validator's
reason, an accepted one becomes one Kinesis record per event."""

from __future__ import annotations

import json
from collections import Counter

from refarch import clickstream_schema as schema


def edge_reasons(posts: list[list[dict]], batch_max: int = schema.MAX_BATCH) -> tuple[list[str], Counter]:
    """(Kinesis records of the accepted posts, refused events by the validator's reason)."""
    from jsonschema import Draft4Validator
    from jsonschema.exceptions import best_match

    validator = Draft4Validator(schema.request_schema(batch_max))
    records, refused = [], Counter()
    for events in posts:
        error = best_match(validator.iter_errors({"events": events}))
        if error is None:
            records += [json.dumps(event, separators=(",", ":")) for event in events]
        else:
            refused[error.message] += len(events)
    return records, refused
