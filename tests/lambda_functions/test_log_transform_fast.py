"""The fast path for ordinary lines: which lines it takes, that it writes the full parser's
bytes for them, the per-minute timestamp cache, and why its Ok entries never shrink."""

from __future__ import annotations

import base64
import itertools
import json

import pytest

from tests.lambda_loader import load

parse = load("log_transform", "log_transform_parse")
fast = load("log_transform", "log_transform_fast")
batch = load("log_transform", "log_transform_batch")

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/124.0.0.0 Safari/537.36")


def line(request: str = "GET /index.html HTTP/1.1", *, client: str = "192.0.2.10",
         user: str = "-", time: str = "10/Oct/2000:13:55:36 -0700", status: str = "200",
         size: str = "512", tail: str = f' "https://www.example.com/" "{CHROME}"',
         ending: str = "\n") -> bytes:
    return f'{client} - {user} [{time}] "{request}" {status} {size}{tail}{ending}'.encode()


def full_parser(raw: bytes) -> bytes:
    return parse.json_line(parse.parse_log_line(raw))


@pytest.fixture(autouse=True)
def cold_caches():
    fast.clear_timestamp_caches()


@pytest.mark.parametrize("raw", [
    line(),
    line(tail="", ending=""),  # common format, no newline
    line(client="2001:db8:85a3::8a2e:370:7334"),
    line(user="frank", tail=' "-" "-"'),
    line(tail=' "" ""'),  # empty, not "-": strings, not null
    line(tail=' "-" "curl/8.6.0"'),  # short user agent
    line(tail=' "-" "' + "Mozilla/5.0 (X11) " * 200 + '"'),  # a 3,600-byte user agent
    line("POST /api/v1/orders?id=7&page=2 HTTP/2.0"),
    line("GET /a? HTTP/1.1"),  # empty query
    line("GET ?x=1 HTTP/1.1"),  # empty path
    line("GET /a?x=1?y HTTP/1.1"),  # split at the first "?"
    line("OPTIONS * HTTP/1.1"),
    line("M-SEARCH * HTTP/1.1"),
    line("GET http://proxy.example/x HTTP/1.0"),
    line("GET / HTTP/2"),
    line(size="-", status="304"),
    line(size="0"),
    line(size="9" * 18),
    line(status="101"),
    line(time="31/Dec/1999:23:30:59 -0100"),  # forward across a year
    line(time="29/Feb/2024:12:00:00 +1400"),  # leap day
    line(time="01/Jan/0999:00:00:00 -0000"),  # year zero-padded
    line(ending="\r\n"),
    line(ending="\r"),
], ids=lambda raw: raw[:60].decode())
def test_an_ordinary_line_takes_the_fast_path_and_gets_the_full_parsers_bytes(raw):
    assert fast.fast_json_line(raw) == full_parser(raw)


@pytest.mark.parametrize("raw", [
    line(tail=r' "-" "Mozilla/5.0 (compatible; \"Quoted\" Crawler/1.0)"'),  # escaped quote
    line(tail=r' "https://example.org/?q=\"red shoes\"" "curl/8.6.0"'),
    line(tail=r' "-" "C:\\dir"'),  # escaped backslash
    line(tail=r' "-" "bot\x0a\tname"'),  # Apache's \xhh escapes
    line(tail=' "-" "Zoë/1.0"'),  # not ASCII
    line(tail=' "-" "tab\there"'),  # a control character
    line(r"GET /search?q=\"x\" HTTP/1.1"),
    line("-", size="-", status="408"),  # no request read
    line(""),
    line("GET"),
    line("GET /legacy"),  # HTTP/0.9
    line("GET HTTP/1.1"),
    line("GET /a b HTTP/1.1"),
    line("GET  /a HTTP/1.1"),
    line(r"\x16\x03\x01\x02\x00"),  # TLS hello on port 80
    line(size="0123"),  # leading zero: the JSON number is 123
    line(size="1" + "0" * 18),  # 19 digits, still a bigint
    line(status="099"),
    line(user="fr\x7fank"),
], ids=lambda raw: raw[:60].decode(errors="replace"))
def test_a_line_that_needs_a_decision_goes_to_the_full_parser_which_still_parses_it(raw):
    assert fast.fast_json_line(raw) is None
    assert list(json.loads(full_parser(raw))) == [name for name, _ in parse.COLUMNS]


@pytest.mark.parametrize("raw", [
    line(time="31/Feb/2000:13:55:36 -0700"),  # no such day
    line(time="10/Okt/2000:13:55:36 -0700"),  # no such month
    line(time="10/Oct/2000:24:00:00 -0700"),  # no such hour
    line(time="10/Oct/2000:13:55:60 -0700"),  # no leap seconds
    line(time="10/Oct/2000:13:55:36 -0760"),  # no such offset
    line(time="01/Jan/0001:00:30:00 +0100"),  # before year 1 in UTC
    line(size=str(2**63)),
    line(status="2000"),
    line(ending="\n\n"),
    line(ending="\n") + line(),
    line(tail=' "only-a-referrer"'),
    line(tail=' "-" "cafX"').replace(b"cafX", b"caf\xe9"),  # not UTF-8
    b"",
    b"\n",
], ids=lambda raw: raw[:60].decode(errors="replace"))
def test_a_line_the_full_parser_rejects_never_takes_the_fast_path(raw):
    assert fast.fast_json_line(raw) is None
    with pytest.raises(parse.InvalidLogLine):
        parse.parse_log_line(raw)


def test_the_utc_conversion_is_cached_per_local_minute_and_offset_with_seconds_appended():
    for second in range(60):
        for zone in ("-0700", "+0530"):
            raw = line(time=f"10/Oct/2000:13:55:{second:02d} {zone}")
            assert fast.fast_json_line(raw) == full_parser(raw)
    assert fast._utc_minutes == {(b"10/Oct/2000:13:55", b"-0700"): b"2000-10-10 20:55:",
                                 (b"10/Oct/2000:13:55", b"+0530"): b"2000-10-10 08:25:"}


def test_the_timestamp_cache_is_bounded_and_forgets_its_oldest_minute_first(monkeypatch):
    monkeypatch.setattr(fast, "MINUTE_CACHE_SIZE", 10)
    times = [f"10/Oct/2000:13:{minute:02d}:07 +0000" for minute in range(25)]
    for time in times:
        raw = line(time=time)
        assert fast.fast_json_line(raw) == full_parser(raw)
    assert list(fast._utc_minutes) == [(f"10/Oct/2000:13:{minute:02d}".encode(), b"+0000")
                                       for minute in range(15, 25)]


def test_an_invalid_date_is_not_cached():
    assert fast.fast_json_line(line(time="31/Feb/2000:13:55:36 -0700")) is None
    assert fast._utc_minutes == {}


def entry_sizes(raw: bytes) -> tuple[int, int]:
    """json.dumps sizes of a record's Ok entry and of its ProcessingFailed entry."""
    record = {"recordId": "id", "data": base64.b64encode(raw).decode()}
    result = batch.transform_record(record)
    return (len(json.dumps({"recordId": "id", "result": "Ok", "data": result.output})),
            len(json.dumps(batch.failed_entry(result))))


def test_a_fast_lines_ok_entry_is_always_larger_than_its_failed_entry():
    # transform_batch's bulk sizing relies on this. A fast line's JSON holds every byte of
    # the line's fields verbatim, so the difference in size depends only on the line's
    # shape: every shape, at the shortest field lengths (base64 rounds by 3), is here.
    shapes = itertools.product(
        ["-", "i"], ["-", "u"], ["", "?", "?q"], ["-", "0"], ["", ' "-" "-"', ' "" ""'],
        ["", "\n", "\r\n"], range(3))
    for ident, user, query, size, tail, ending, extra in shapes:
        raw = (f'{"1" * (1 + extra)} {ident} {user} [10/Oct/2000:13:55:36 -0700] '
               f'"G /{query} H/1" 200 {size}{tail}{ending}').encode()
        assert fast.fast_json_line(raw) is not None, raw
        ok_size, failed_size = entry_sizes(raw)
        assert ok_size > failed_size, raw
