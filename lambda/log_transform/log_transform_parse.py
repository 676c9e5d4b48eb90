r"""Apache access-log lines (common and combined format) -> typed JSON lines.

Pure: no AWS, no Powertools. `parse_log_line` raises `InvalidLogLine` with a short reason
for anything that is not one access-log line.

Formats (Apache LogFormat):
    common    %h %l %u %t "%r" %>s %b
    combined  %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"

Request line (%r), decided here once so every record is treated the same way:
    "-" or ""               no request was read (e.g. a 408): method, path, query and
                            protocol are null; the rest of the line is kept.
    otherwise               method = first word, protocol = last word when it looks like
                            HTTP/x[.y], target = the words in between (null if none),
                            query = what follows the first "?" of the target (null if no "?").
                            So "GET" gives method GET and nulls; "GET /x" (HTTP/0.9) gives
                            a null protocol.
    first word not an       the request is garbage (a TLS handshake sent to port 80, a
    HTTP method token       scanner): all four are null, the line is still kept.
A malformed request is the client's fault, not the log's: the line is a genuine log entry
whose status, time and size are worth keeping, so it is parsed, not failed.

Inside quoted fields Apache escapes `"` and `\` with a backslash; those two are undone.
Other escapes it writes (\xhh for control and non-ASCII bytes, \n, \t) stay as written.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from functools import lru_cache

# The Glue table schema, in column order: the single source of truth for the stack.
# `timestamp` is a real Glue timestamp. The JSON carries it as "yyyy-MM-dd HH:mm:ss"
# in UTC (java.sql.Timestamp format), which both Firehose JSON deserializers (OpenX and
# Hive) parse into a timestamp; ISO-8601 with "T...Z" is not parsed by every OpenX version.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("client_ip", "string"),
    ("ident", "string"),
    ("user", "string"),
    ("timestamp", "timestamp"),
    ("method", "string"),
    ("path", "string"),
    ("query", "string"),
    ("protocol", "string"),
    ("status", "int"),
    ("bytes", "bigint"),
    ("referrer", "string"),
    ("user_agent", "string"),
)


class InvalidLogLine(ValueError):
    """The data is not one Apache common or combined access-log line."""


# A quoted field with backslash escapes, written as an unrolled loop so a long field
# matches in linear time.
_QUOTED = r'"([^"\\]*(?:\\.[^"\\]*)*)"'
_LINE = re.compile(
    r"(\S+) (\S+) (\S+) \[([^\]]*)\] "
    + _QUOTED
    + r" (\d{3}) (\d{1,19}|-)"
    + r"(?: " + _QUOTED + " " + _QUOTED + ")?",
    re.ASCII,  # \d and \S mean ASCII digits and spaces, as Apache writes them
)
_BIGINT_MAX = 2**63 - 1
_UNESCAPE = re.compile(r'\\(["\\])')
_METHOD = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP token (RFC 9110)
_PROTOCOL = re.compile(r"[A-Z]+/\d+(?:\.\d+)?", re.ASCII)
_TIME = re.compile(r"(\d{2})/([A-Z][a-z]{2})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})",
                   re.ASCII)
_MONTHS = {name: number for number, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def parse_log_line(raw: bytes) -> dict:
    """One access-log line (a trailing newline is allowed) -> {column: value} in COLUMNS order."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidLogLine("not UTF-8") from None
    line = line.removesuffix("\n").removesuffix("\r")
    if not line:
        raise InvalidLogLine("empty line")
    if "\n" in line:
        raise InvalidLogLine("more than one line")
    match = _LINE.fullmatch(line)
    if match is None:
        raise InvalidLogLine("not common or combined log format")
    client_ip, ident, user, time, request, status, size, referrer, user_agent = match.groups()
    method, path, query, protocol = split_request(_unescape(request))
    return {
        "client_ip": client_ip,
        "ident": _dash_to_none(ident),
        "user": _dash_to_none(user),
        "timestamp": utc_timestamp(time),
        "method": method,
        "path": path,
        "query": query,
        "protocol": protocol,
        "status": int(status),
        "bytes": _bigint(size),
        "referrer": _dash_to_none(_unescape(referrer)),
        "user_agent": _dash_to_none(_unescape(user_agent)),
    }


def json_line(fields: dict) -> bytes:
    """Compact JSON plus newline: newline-delimited JSON for Firehose's format conversion."""
    return (_encode(fields) + "\n").encode("utf-8")


def split_request(request: str | None) -> tuple[str | None, str | None, str | None, str | None]:
    """Request line -> (method, path, query, protocol); see the module docstring for the rules."""
    if not request or request == "-":
        return None, None, None, None
    words = request.split(" ")
    if not _METHOD.fullmatch(words[0]):
        return None, None, None, None
    protocol = None
    if len(words) > 1 and _PROTOCOL.fullmatch(words[-1]):
        protocol = words.pop()
    target = " ".join(words[1:]) or None
    if target is None:
        return words[0], None, None, protocol
    path, question_mark, query = target.partition("?")
    return words[0], path, (query if question_mark else None), protocol


@lru_cache(maxsize=4096)  # a batch spans the Firehose buffer interval: few distinct seconds
def utc_timestamp(text: str) -> str:
    """Apache %t ("10/Oct/2000:13:55:36 -0700") -> UTC "2000-10-10 20:55:36"."""
    match = _TIME.fullmatch(text)
    if match is None or match[2] not in _MONTHS:
        raise InvalidLogLine("invalid timestamp")
    day, month, year, hour, minute, second, sign, offset_hours, offset_minutes = match.groups()
    if int(offset_hours) > 23 or int(offset_minutes) > 59:
        raise InvalidLogLine("invalid timestamp")
    offset = timedelta(hours=int(offset_hours), minutes=int(offset_minutes))
    try:
        local = datetime(int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second))
        utc = local - offset if sign == "+" else local + offset
    except (ValueError, OverflowError):
        raise InvalidLogLine("invalid timestamp") from None
    return utc.isoformat(" ")


def _unescape(value: str | None) -> str | None:
    if value is None or "\\" not in value:
        return value
    return _UNESCAPE.sub(r"\1", value)


def _bigint(size: str) -> int | None:
    if size == "-":
        return None
    value = int(size)
    if value > _BIGINT_MAX:
        raise InvalidLogLine("bytes out of bigint range")
    return value


def _dash_to_none(value: str | None) -> str | None:
    return None if value == "-" else value
