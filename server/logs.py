"""Log lines operators can use: the request id on every line written while serving a request
(a context variable, copied into each record by a filter on the output handler), and two
formats: readable text (the default) or one JSON object per line for log shippers
(``log_format = "json"``). Fields a line carries beyond its message (the access line's) are
passed as ``extra={"fields": {...}}``: text shows them as ``key=value``, JSON as keys."""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
from typing import Any

import orjson

# The relay request being served by the current task ("-" outside any request).
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"
LOG_FORMATS = ("text", "json")


class RequestIdFilter(logging.Filter):
    """Stamps each record with the request id of the task that wrote it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        return True


class TextFormatter(logging.Formatter):
    """The readable default; structured fields follow the message as ``key=value``."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict) and fields:
            line += " " + " ".join(f"{k}={_text(v)}" for k, v in fields.items())
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, request_id, msg, the record's fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name,
            "request_id": getattr(record, "request_id", request_id.get()), "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update({k: v for k, v in fields.items() if k not in out})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exc"] = record.exc_text
        return orjson.dumps(out, default=str).decode()


def _text(value: Any) -> str:
    if value is None:
        return "-"
    text = str(value)
    return f'"{text}"' if not text or " " in text else text


def configure(level: str, fmt: str = "text") -> logging.Handler:
    """Log to stderr in ``fmt``, every line stamped with its request id; returns the handler."""
    import sys

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    return handler
