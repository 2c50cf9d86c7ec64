"""The request grammar of the emulator's server (``http1``): the fast paths agree with the
grammar they shortcut, bodies are framed as Tornado framed them, and bad input is an HttpError."""

from __future__ import annotations

import itertools
import re

import pytest

from emulator.http1 import (
    MAX_BODY_SIZE, Headers, HttpError, Request, body_framing, chunked_body, head_end, parse_head,
    request_line, status_line,
)


def test_head_end_agrees_with_tornados_pattern():
    pattern = re.compile(rb"\r?\n\r?\n")
    for n in range(9):  # every string of up to 8 of these bytes
        for parts in itertools.product((b"\r", b"\n", b"a"), repeat=n):
            data = b"".join(parts)
            match = pattern.search(data)
            assert head_end(data) == ((match.start(), match.end()) if match else None), data
            assert head_end(bytearray(data)) == head_end(data)


@pytest.mark.parametrize("line", [
    "GET / HTTP/1.1", "POST /v1/messages?beta=true HTTP/1.0", "BREW /pot HTTP/1.1", "GET http://h/p HTTP/1.1",
    "GET /caf\xe9 HTTP/1.1", "GET /a\x85b HTTP/1.1",  # obs-text in the target is allowed
])
def test_request_lines_the_grammar_accepts(line):
    method, target, version = line.split(" ")
    assert request_line(line) == (method, target, version)


@pytest.mark.parametrize("line", [
    "", "GET", "GET /", "GET  / HTTP/1.1", "GET / HTTP/1.1 ", "GET /\tx HTTP/1.1", "GET /\x7f HTTP/1.1",
    "G(T / HTTP/1.1", "GET / HTTP/2.0", "GET / http/1.1", "GET / HTTP/1",
])
def test_request_lines_the_grammar_refuses(line):
    with pytest.raises(HttpError):
        request_line(line)


def test_parse_head_trims_values_and_joins_repeats():
    method, uri, version, headers = parse_head(
        b"POST /v1/x?q=1 HTTP/1.1\r\nHost: e\r\nX-A:  one \t\r\nx-a: two\r\nEmpty:\nLF-only: yes")
    assert (method, uri, version) == ("POST", "/v1/x?q=1", "HTTP/1.1")
    assert dict(headers) == {"host": "e", "x-a": "one,two", "empty": "", "lf-only": "yes"}
    assert headers["X-A"] == headers.get("X-a") == "one,two" and "HOST" in headers and 5 not in headers
    assert headers.get("missing", "default") == "default"


def test_http_1_0_needs_no_host_and_request_splits_its_target():
    _, uri, version, headers = parse_head(b"GET /api/hello?x=1&y HTTP/1.0")
    request = Request("GET", uri, version, headers, b"")
    assert (request.path, request.query, dict(request.headers)) == ("/api/hello", "x=1&y", {})


@pytest.mark.parametrize("head", [
    b"GET / HTTP/1.1\r\nHost: a,b",  # two hosts folded into one
    b"GET / HTTP/1.1\r\nHost: e\r\n: no name",
    b"GET / HTTP/1.1\r\nHost: e\r\nX: a\rb",  # a bare CR inside a value
    b"GET / HTTP/1.1\r\nHost: e\r\nX\x00: a",
])
def test_bad_heads(head):
    with pytest.raises(HttpError):
        parse_head(head)


def test_body_framing():
    assert body_framing(Headers()) == 0
    assert body_framing(Headers({"content-length": "12"})) == 12
    assert body_framing(Headers({"content-length": "12, 12"})) == 12  # a duplicated header, as Tornado allows
    assert body_framing(Headers({"transfer-encoding": "Chunked"})) is None
    for bad in ({"content-length": "1e3"}, {"content-length": "\xb2"}, {"content-length": "1,2"},
                {"content-length": str(MAX_BODY_SIZE + 1)}, {"transfer-encoding": "gzip, chunked"},
                {"transfer-encoding": "chunked", "content-length": "3"}):
        with pytest.raises(HttpError):
            body_framing(Headers(bad))


def test_chunked_body_waits_for_every_byte_then_reports_where_it_ends():
    data = b"xx" + b"3\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\nNEXT"
    for cut in range(len(data) - 4):
        assert chunked_body(bytearray(data[:cut]), 2) is None
    assert chunked_body(bytearray(data), 2) == (b"abc0123456789", len(data) - 4)


@pytest.mark.parametrize("data", [b"3;ext=1\r\nabc\r\n0\r\n\r\n", b"3\r\nabcX\r\n",
                                  b"0\r\nX-Trailer: 1\r\n\r\n", b"-1\r\n", b"9" * 70])
def test_bad_chunks(data):
    with pytest.raises(HttpError):
        chunked_body(bytearray(data), 0)


def test_status_lines_name_the_reason_or_unknown():
    assert status_line(429) == b"HTTP/1.1 429 Too Many Requests\r\n"
    assert status_line(529) == b"HTTP/1.1 529 Unknown\r\n"  # as Tornado said it
