"""The access-log parser: formats, typed fields, edge cases and the JSON line it writes."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.lambda_loader import load

parse = load("log_transform", "log_transform_parse")

COMMON = b'127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326'
COMBINED = (b'192.0.2.10 - - [10/Oct/2000:13:55:36 -0700] "GET /index.html?lang=en&x=1 HTTP/1.1" '
            b'200 512 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"')


def line_with(request: str = "GET / HTTP/1.1", *, time: str = "10/Oct/2000:13:55:36 -0700",
              size: str = "100", tail: str = "") -> bytes:
    return f'10.0.0.1 - - [{time}] "{request}" 200 {size}{tail}'.encode()


def test_common_format_becomes_typed_fields_in_column_order():
    assert parse.parse_log_line(COMMON) == {
        "client_ip": "127.0.0.1", "ident": None, "user": "frank",
        "timestamp": "2000-10-10 20:55:36", "method": "GET", "path": "/apache_pb.gif",
        "query": None, "protocol": "HTTP/1.0", "status": 200, "bytes": 2326,
        "referrer": None, "user_agent": None,
    }
    assert list(parse.parse_log_line(COMMON)) == [name for name, _ in parse.COLUMNS]


def test_combined_format_adds_referrer_and_user_agent():
    fields = parse.parse_log_line(COMBINED)
    assert fields["referrer"] == "http://www.example.com/start.html"
    assert fields["user_agent"] == "Mozilla/4.08 [en] (Win98; I ;Nav)"
    assert (fields["path"], fields["query"]) == ("/index.html", "lang=en&x=1")


def test_ipv6_client_address_is_kept_whole():
    fields = parse.parse_log_line(COMMON.replace(b"127.0.0.1", b"2001:db8:85a3::8a2e:370:7334"))
    assert fields["client_ip"] == "2001:db8:85a3::8a2e:370:7334"
    assert fields["user"] == "frank"


def test_dash_for_bytes_is_null_and_a_number_is_an_int():
    assert parse.parse_log_line(line_with(size="-"))["bytes"] is None
    assert parse.parse_log_line(line_with(size="0"))["bytes"] == 0
    assert parse.parse_log_line(line_with(size="9876543210"))["bytes"] == 9876543210


def test_dash_ident_user_referrer_and_user_agent_are_null():
    fields = parse.parse_log_line(line_with(tail=' "-" "-"'))
    assert (fields["ident"], fields["user"], fields["referrer"], fields["user_agent"]) == (
        None, None, None, None)


def test_escaped_quotes_and_backslashes_are_unescaped_in_referrer_and_user_agent():
    fields = parse.parse_log_line(line_with(
        tail=r' "http://example.com/?q=\"hi\"" "Agent \"quoted\" C:\\dir"'))
    assert fields["referrer"] == 'http://example.com/?q="hi"'
    assert fields["user_agent"] == 'Agent "quoted" C:\\dir'


def test_escaped_quote_inside_the_request_line_stays_in_the_path():
    fields = parse.parse_log_line(line_with(r'GET /search?q=\"x\" HTTP/1.1'))
    assert (fields["path"], fields["query"], fields["protocol"]) == ("/search", 'q="x"', "HTTP/1.1")


def test_other_apache_escapes_are_kept_as_written():
    fields = parse.parse_log_line(line_with(tail=r' "-" "bot\x0a\tname"'))
    assert fields["user_agent"] == r"bot\x0a\tname"


@pytest.mark.parametrize(("apache_time", "utc"), [
    ("10/Oct/2000:13:55:36 -0700", "2000-10-10 20:55:36"),
    ("10/Oct/2000:13:55:36 +0000", "2000-10-10 13:55:36"),
    ("10/Oct/2000:01:15:00 +0530", "2000-10-09 19:45:00"),   # back across midnight
    ("31/Dec/1999:23:30:00 -0100", "2000-01-01 00:30:00"),   # forward across a year
    ("29/Feb/2024:12:00:00 +1400", "2024-02-28 22:00:00"),   # leap day
    ("01/Jan/0999:00:00:00 -0000", "0999-01-01 00:00:00"),   # year zero-padded
])
def test_timestamp_offsets_convert_to_utc(apache_time, utc):
    assert parse.parse_log_line(line_with(time=apache_time))["timestamp"] == utc


@pytest.mark.parametrize("apache_time", [
    "10/Oct/2000:13:55:36",            # no offset
    "10/Okt/2000:13:55:36 -0700",      # unknown month
    "31/Feb/2000:13:55:36 -0700",      # no such day
    "10/Oct/2000:24:00:00 -0700",      # no such hour
    "10/Oct/2000:13:55:36 -0760",      # no such offset
    "2000-10-10T13:55:36Z",            # not Apache's format
    "01/Jan/0001:00:30:00 +0100",      # before year 1 in UTC
])
def test_invalid_timestamp_fails_the_line(apache_time):
    with pytest.raises(parse.InvalidLogLine, match="invalid timestamp"):
        parse.parse_log_line(line_with(time=apache_time))


@pytest.mark.parametrize(("request_line", "expected"), [
    ("GET /a/b?x=1&y=2 HTTP/1.1", ("GET", "/a/b", "x=1&y=2", "HTTP/1.1")),
    ("GET /a? HTTP/1.1", ("GET", "/a", "", "HTTP/1.1")),             # empty query is not null
    ("GET /a?x=1?y HTTP/2.0", ("GET", "/a", "x=1?y", "HTTP/2.0")),    # split at the first "?"
    ("GET /legacy", ("GET", "/legacy", None, None)),                  # HTTP/0.9: no protocol
    ("GET", ("GET", None, None, None)),                               # no target
    ("GET HTTP/1.1", ("GET", None, None, "HTTP/1.1")),                # target missing
    ("GET /a b HTTP/1.1", ("GET", "/a b", None, "HTTP/1.1")),         # unencoded space
    ("-", (None, None, None, None)),                                  # no request read (408)
    ("", (None, None, None, None)),
    (r"\x16\x03\x01\x02\x00", (None, None, None, None)),              # TLS hello on port 80
])
def test_request_line_splits_into_method_path_query_protocol(request_line, expected):
    fields = parse.parse_log_line(line_with(request_line))
    assert (fields["method"], fields["path"], fields["query"], fields["protocol"]) == expected
    assert fields["status"] == 200  # a malformed request still keeps the rest of its line


@pytest.mark.parametrize("ending", [b"\n", b"\r\n", b""])
def test_a_trailing_newline_is_optional(ending):
    assert parse.parse_log_line(COMMON + ending) == parse.parse_log_line(COMMON)


@pytest.mark.parametrize(("raw", "reason"), [
    (b"", "empty line"),
    (b"\n", "empty line"),
    (COMMON + b"\xff\xfe", "not UTF-8"),
    (COMMON + b"\n" + COMMON, "more than one line"),
    (b"hello world", "not common or combined log format"),
    (COMMON + b' "only-a-referrer"', "not common or combined log format"),
    (COMMON.replace(b" 200 ", b" 2000 "), "not common or combined log format"),
    (COMMON.replace(b" 200 ", " ٢٠٠ ".encode()), "not common or combined log format"),
    (COMMON.replace(b'"GET', b'GET'), "not common or combined log format"),
    (line_with('GET /"unescaped HTTP/1.1'), "not common or combined log format"),
    (line_with(size=str(2**63)), "bytes out of bigint range"),
])
def test_lines_that_are_not_access_log_lines_raise_with_a_reason(raw, reason):
    with pytest.raises(parse.InvalidLogLine, match=reason):
        parse.parse_log_line(raw)


def test_json_line_is_compact_utf8_with_a_trailing_newline():
    fields = parse.parse_log_line(line_with(tail=' "-" "Zoë/1.0"'))
    encoded = parse.json_line(fields)
    assert encoded.endswith(b"}\n") and encoded.count(b"\n") == 1
    assert b'"user_agent":"Zo\xc3\xab/1.0"' in encoded
    assert json.loads(encoded) == fields


def test_columns_declare_glue_types_for_every_field():
    assert parse.COLUMNS == (
        ("client_ip", "string"), ("ident", "string"), ("user", "string"),
        ("timestamp", "timestamp"), ("method", "string"), ("path", "string"),
        ("query", "string"), ("protocol", "string"), ("status", "int"),
        ("bytes", "bigint"), ("referrer", "string"), ("user_agent", "string"),
    )


# Property: whatever Apache writes for a request, the parser gives back the values it logged.
_text = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=40)
_token = st.text(st.characters(whitelist_categories=("L", "N"), max_codepoint=127),
                 min_size=1, max_size=12)


def apache_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@settings(max_examples=200, deadline=None)
@given(client=_token, user=_token, method=_token,
       path=st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zs"),
                                  blacklist_characters="?"), min_size=1, max_size=30),
       query=st.none() | st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zs")),
                                 max_size=20),
       status=st.integers(100, 599), size=st.none() | st.integers(0, 2**63 - 1),
       referrer=_text, user_agent=_text)
def test_combined_lines_round_trip_the_values_apache_logged(
        client, user, method, path, query, status, size, referrer, user_agent):
    target = path if query is None else f"{path}?{query}"
    line = (f"{client} - {user} [01/Jan/2024:00:00:00 +0000] "
            f"{apache_quote(f'{method} {target} HTTP/1.1')} {status} "
            f"{'-' if size is None else size} "
            f"{apache_quote(referrer)} {apache_quote(user_agent)}\n")
    fields = parse.parse_log_line(line.encode())
    assert fields == {
        "client_ip": client, "ident": None, "user": None if user == "-" else user,
        "timestamp": "2024-01-01 00:00:00", "method": method, "path": path, "query": query,
        "protocol": "HTTP/1.1", "status": status, "bytes": size,
        "referrer": None if referrer == "-" else referrer,
        "user_agent": None if user_agent == "-" else user_agent,
    }
