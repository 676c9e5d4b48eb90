r"""The fast path for the common access-log line: its JSON line rendered straight from its bytes.

`fast_json_line` accepts only a line whose JSON it can write without a decision of its own:

    printable ASCII       so it is UTF-8, and no field holds a quote, a backslash or a control
                          character: nothing to unescape from Apache, nothing to escape for JSON
    "METHOD TARGET PROTOCOL"  exactly three words, so method/path/query/protocol are the words
    status 100-999        three digits, no leading zero: the JSON number is the text
    bytes 0 or 1-18 digits  no leading zero and below 2**63: the JSON number is the text
    seconds 00-59         a valid date and offset are still checked, once per minute

and returns None for every other line, which then goes to the full parser
(log_transform_parse.parse_log_line + json_line). For a line it accepts, the bytes are the
full parser's, so whether a record is Ok or ProcessingFailed, and what it holds, never
depends on which path took it (tests/lambda_functions/test_log_transform_fast.py).

The UTC conversion is cached per (local minute, offset) and the seconds appended: an offset
is whole minutes, so the seconds never change. A batch spans a few minutes of a few servers;
a cache keyed on the full timestamp would almost never hit.
"""

from __future__ import annotations

import re

from log_transform_parse import COLUMNS, InvalidLogLine, utc_timestamp

_CHAR = rb"[!#-\[\]-~]"  # printable ASCII but space, quote and backslash
_WORD = _CHAR + rb"+"
_QUOTED = rb'"[ !#-\[\]-~]*"'  # printable ASCII but quote and backslash, quotes included
_FAST_LINE = re.compile(
    rb"(" + _WORD + rb") (" + _WORD + rb") (" + _WORD + rb") "
    rb"\[([0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9]{2}:[0-9]{2}):([0-5][0-9]) ([+-][0-9]{4})\] "
    # method: an HTTP token. The target is one word, not empty; its first "?" ends the path
    # (which may be empty) and starts the query.
    rb'"([!#$%&\'*+.^_`|~0-9A-Za-z-]+) '
    rb"(?=" + _CHAR + rb")([!#->@-\[\]-~]*)(?:\?(" + _CHAR + rb"*))?"
    rb' ([A-Z]+/[0-9]+(?:\.[0-9]+)?)" '
    rb"([1-9][0-9]{2}) (0|[1-9][0-9]{0,17}|-)"
    rb"(?: (" + _QUOTED + rb") (" + _QUOTED + rb"))?"
    rb"\r?\n?",  # the full parser strips one "\n", then one "\r"
)
_match = _FAST_LINE.fullmatch

# The columns in the order fast_json_line passes their values: a string always present
# ('"%b"'), or a value it gives as null, a number or a quoted string ('%b').
_SLOTS = {"client_ip": b'"%b"', "ident": b"%b", "user": b"%b", "timestamp": b'"%b%b"',
          "method": b'"%b"', "path": b'"%b"', "query": b"%b", "protocol": b'"%b"',
          "status": b"%b", "bytes": b"%b", "referrer": b"%b", "user_agent": b"%b"}
if list(_SLOTS) != [name for name, _ in COLUMNS]:  # a schema change must reach this renderer
    raise ImportError(f"log_transform_fast renders {list(_SLOTS)}, not the COLUMNS {COLUMNS}")
_TEMPLATE = (b"{" + b",".join(b'"%b":%b' % (name.encode(), slot) for name, slot in _SLOTS.items())
             + b"}\n")

MINUTE_CACHE_SIZE = 4096  # (local minute, offset) pairs; a batch needs a handful
_utc_minutes: dict[tuple[bytes, bytes], bytes] = {}


def fast_json_line(line: bytes) -> bytes | None:
    """The JSON line of an ordinary access-log line, as json_line would write it; else None."""
    rendered = fast_json_line_and_day(line)
    return None if rendered is None else rendered[0]


def fast_json_line_and_day(line: bytes) -> tuple[bytes, bytes] | None:
    """(the JSON line, its UTC day b"YYYY-MM-DD") of an ordinary access-log line; else None."""
    match = _match(line)
    if match is None:
        return None
    (client_ip, ident, user, minute, second, offset, method, path, query, protocol, status,
     size, referrer, user_agent) = match.groups()
    utc = _utc_minutes.get((minute, offset)) or utc_minute(minute, offset)
    if utc is None:
        return None  # no such date or offset: the full parser gives the reason
    return _TEMPLATE % (
        client_ip,
        b"null" if ident == b"-" else b'"' + ident + b'"',
        b"null" if user == b"-" else b'"' + user + b'"',
        utc, second, method, path,
        b"null" if query is None else b'"' + query + b'"',
        protocol, status,
        b"null" if size == b"-" else size,
        b"null" if referrer is None or referrer == b'"-"' else referrer,
        b"null" if user_agent is None or user_agent == b'"-"' else user_agent,
    ), utc[:10]


def utc_minute(minute: bytes, offset: bytes) -> bytes | None:
    """b"10/Oct/2000:13:55", b"-0700" -> b"2000-10-10 20:55:" (cached); None if invalid."""
    try:  # the full parser's conversion, so both paths share one set of rules
        utc = utc_timestamp(f"{minute.decode()}:00 {offset.decode()}")[:-2].encode()
    except InvalidLogLine:
        return None
    if len(_utc_minutes) >= MINUTE_CACHE_SIZE:
        del _utc_minutes[next(iter(_utc_minutes))]  # the oldest entry
    _utc_minutes[minute, offset] = utc
    return utc


def clear_timestamp_caches() -> None:
    """Forget every converted timestamp (a cold start, for tests and benchmarks)."""
    _utc_minutes.clear()
    utc_timestamp.cache_clear()
