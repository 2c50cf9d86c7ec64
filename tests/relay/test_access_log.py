"""Logs operators can use: one access line per relay request with its fields, the request id on
every line written while serving it (a failover warning here), and the JSON format."""

from __future__ import annotations

import logging

import orjson
import pytest

from server.logs import JsonFormatter, RequestIdFilter, TextFormatter

MSG = {"model": "claude-sonnet-4-5", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}


class Capture(logging.Handler):
    """The process's output handler as ``configure_logging`` installs it (the request-id
    filter on the handler), keeping the records and their JSON lines."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.addFilter(RequestIdFilter())
        self.records: list[logging.LogRecord] = []
        self.json = JsonFormatter()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def captured():
    handler = Capture()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def test_access_line_and_request_id_on_lines_written_inside(relay, pool, emu, claude_key, captured):
    emu.state.patch("a2", {"fault": "500"})
    async with relay.client() as http:
        ids = []
        for i in range(2):  # round-robin: one of the two lands on a2 first and fails over
            r = await http.post("/v1/messages", headers={"x-api-key": claude_key},
                                json={**MSG, "messages": [{"role": "user", "content": f"conversation {i}"}]})
            assert r.status_code == 200, r.text
            ids.append(r.headers["x-jiuliu-request-id"])
        await relay.usage.wait_recorded(ids[-1])
    access = {r.request_id: r for r in captured.records if r.name == "jiuliu.access"}
    assert set(ids) <= set(access)
    for rid in ids:
        fields = access[rid].fields
        assert fields["request_id"] == rid and fields["status"] == 200 and fields["outcome"] == "ok"
        assert fields["group"] == "claude" and fields["model"] == "claude-sonnet-4-5"
        assert fields["account"] == "a1" and fields["key"].startswith(claude_key[:6])
        assert fields["key"].startswith(claude_key[:7]) and claude_key not in fields["key"]
        assert fields["latency_ms"] >= fields["ttft_ms"] >= 0
        assert fields["input_tokens"] > 0 and fields["output_tokens"] > 0
    failover = [r for r in captured.records if r.name == "server.pools.manager" and "a2" in r.getMessage()]
    assert failover, "the failover warning was not logged"
    failed_over = [r for r in ids if access[r].fields["attempts"] == 2]
    assert len(failed_over) == 1
    assert failover[0].request_id == failed_over[0]  # written while serving it, stamped with its id
    line = orjson.loads(captured.json.format(access[ids[0]]))
    assert line["request_id"] == ids[0] and line["logger"] == "jiuliu.access" and line["level"] == "INFO"
    assert line["status"] == 200 and line["account"] == "a1" and line["output_tokens"] > 0


async def test_refused_request_has_an_access_line(relay, pool, captured):
    async with relay.client() as http:
        r = await http.post("/v1/messages", headers={"x-api-key": "sk-not-a-key"}, json=MSG)
    assert r.status_code == 401
    lines = [r for r in captured.records if r.name == "jiuliu.access" and r.fields["endpoint"] == "/v1/messages"]
    assert lines and lines[-1].fields["status"] == 401 and lines[-1].fields["outcome"] == "refused"


def test_json_formatter_one_valid_object_per_line_with_exception():
    logger = logging.getLogger("t.json")
    record = logger.makeRecord("t.json", logging.ERROR, __file__, 1, "boom %s", ("x",), None,
                               extra={"fields": {"status": 500, "model": "m\n\"q\""}})
    try:
        raise ValueError("bad")
    except ValueError:
        import sys
        record.exc_info = sys.exc_info()
    RequestIdFilter().filter(record)
    text = JsonFormatter().format(record)
    assert "\n" not in text
    line = orjson.loads(text)
    assert line["msg"] == "boom x" and line["request_id"] == "-" and line["status"] == 500
    assert line["model"] == "m\n\"q\"" and "ValueError: bad" in line["exc"]
    record.fields = {"status": 500, "model": "claude-x", "ttft_ms": None}
    plain = TextFormatter().format(record).splitlines()[0]
    assert plain.endswith("ERROR t.json [-]: boom x status=500 model=claude-x ttft_ms=-")
