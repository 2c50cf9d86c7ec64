"""The control API (a local test tool, so not authenticated by account key) and ``/api/hello``.

- ``GET /_emulator/accounts``: accounts with knobs, request counters and fault counters.
- ``GET /_emulator/accounts/{key_or_name}``: one account.
- ``PATCH /_emulator/accounts/{key_or_name}``: set knobs from a JSON object, e.g.
  ``{"fault": "429", "fail_next": 2}``; 400 for an unknown knob, a bad type or fault; 404 for
  an unknown account.
- ``POST /_emulator/reset``: clear counters, captured requests and prompt caches; with the body
  ``{"knobs": true}`` also restore every account's knobs to their initial values.
- ``GET /_emulator/history[?account=NAME]``: the latest requests (account, protocol, path,
  stream, fault), oldest first.
- ``HEAD|GET /api/hello``: Claude Code's connectivity probe; 200 with an empty body.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import parse_qs

import orjson

from emulator.accounts import KnobError
from emulator.base import HTML, JSON, Handler
from emulator.state import EmulatorState

#: Tornado's entity tag of an empty body, which the probe always carried.
_EMPTY_ETAG = 'Etag: "da39a3ee5e6b4b0d3255bfef95601890afd80709"\r\n'


class ControlHandler(Handler):
    """JSON in and out, errors as ``{"error": message}``."""

    def reply_json(self, obj: Any, status: int = 200) -> None:
        self.reply(status, JSON, orjson.dumps(obj))

    def body_object(self) -> dict:
        if not self.request.body:
            return {}
        try:
            body = orjson.loads(self.request.body)
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            raise KnobError("the body must be a JSON object")
        return body

    def query_argument(self, name: str) -> str | None:
        """The last value of a query argument, stripped (as Tornado's ``get_query_argument``)."""
        values = parse_qs(self.request.query, keep_blank_values=True).get(name)
        return values[-1].strip() if values else None


class AccountsHandler(ControlHandler):
    def get(self) -> None:
        self.reply_json(self.state.snapshot())


class AccountHandler(ControlHandler):
    def _view(self, key_or_name: str) -> dict | None:
        account = self.state.find(key_or_name)
        if account is None:
            return None
        return next(a for a in self.state.snapshot()["accounts"] if a["name"] == account.name)

    def get(self, key_or_name: str) -> None:
        view = self._view(key_or_name)
        if view is None:
            self.reply_json({"error": f"unknown account {key_or_name!r}"}, 404)
            return
        self.reply_json(view)

    def patch(self, key_or_name: str) -> None:
        try:
            self.state.patch(key_or_name, self.body_object())
        except KeyError:
            self.reply_json({"error": f"unknown account {key_or_name!r}"}, 404)
            return
        except KnobError as exc:
            self.reply_json({"error": str(exc)}, 400)
            return
        self.reply_json(self._view(key_or_name))


class ResetHandler(ControlHandler):
    def post(self) -> None:
        try:
            knobs = bool(self.body_object().get("knobs"))
        except KnobError as exc:
            self.reply_json({"error": str(exc)}, 400)
            return
        self.state.reset(knobs=knobs)
        self.reply_json({"ok": True})


class HistoryHandler(ControlHandler):
    def get(self) -> None:
        name = self.query_argument("account")
        records = [dataclasses.asdict(r) for r in self.state.history if name is None or r.account == name]
        self.reply_json({"requests": records})


class HelloHandler(Handler):
    """Claude Code's ``HEAD /api/hello`` probe."""

    def head(self) -> None:
        self.reply(200, HTML, b"", _EMPTY_ETAG)

    def get(self) -> None:
        self.reply(200, HTML, b"", _EMPTY_ETAG)


def default_handlers(state: EmulatorState) -> list:
    """The control routes (the state is handed to every handler by the app)."""
    return [
        (r"/_emulator/accounts", AccountsHandler),
        (r"/_emulator/accounts/([^/]+)", AccountHandler),
        (r"/_emulator/reset", ResetHandler),
        (r"/_emulator/history", HistoryHandler),
        (r"/api/hello", HelloHandler),
    ]
