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

import orjson
import tornado.web

from server.emulator.accounts import KnobError
from server.emulator.state import EmulatorState


class ControlHandler(tornado.web.RequestHandler):
    """JSON in and out, errors as ``{"error": message}``."""

    def initialize(self, state: EmulatorState) -> None:
        self.state = state

    def compute_etag(self) -> None:
        return None

    def reply(self, obj: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(orjson.dumps(obj))

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


class AccountsHandler(ControlHandler):
    def get(self) -> None:
        self.reply(self.state.snapshot())


class AccountHandler(ControlHandler):
    def _view(self, key_or_name: str) -> dict | None:
        account = self.state.find(key_or_name)
        if account is None:
            return None
        return next(a for a in self.state.snapshot()["accounts"] if a["name"] == account.name)

    def get(self, key_or_name: str) -> None:
        view = self._view(key_or_name)
        if view is None:
            self.reply({"error": f"unknown account {key_or_name!r}"}, 404)
            return
        self.reply(view)

    def patch(self, key_or_name: str) -> None:
        try:
            self.state.patch(key_or_name, self.body_object())
        except KeyError:
            self.reply({"error": f"unknown account {key_or_name!r}"}, 404)
            return
        except KnobError as exc:
            self.reply({"error": str(exc)}, 400)
            return
        self.reply(self._view(key_or_name))


class ResetHandler(ControlHandler):
    def post(self) -> None:
        try:
            knobs = bool(self.body_object().get("knobs"))
        except KnobError as exc:
            self.reply({"error": str(exc)}, 400)
            return
        self.state.reset(knobs=knobs)
        self.reply({"ok": True})


class HistoryHandler(ControlHandler):
    def get(self) -> None:
        name = self.get_query_argument("account", None)
        records = [dataclasses.asdict(r) for r in self.state.history if name is None or r.account == name]
        self.reply({"requests": records})


class HelloHandler(tornado.web.RequestHandler):
    """Claude Code's ``HEAD /api/hello`` probe."""

    def head(self) -> None:
        self.finish()

    def get(self) -> None:
        self.finish()


def default_handlers(state: EmulatorState) -> list:
    """The control routes, bound to ``state``."""
    kwargs = {"state": state}
    return [
        (r"/_emulator/accounts", AccountsHandler, kwargs),
        (r"/_emulator/accounts/([^/]+)", AccountHandler, kwargs),
        (r"/_emulator/reset", ResetHandler, kwargs),
        (r"/_emulator/history", HistoryHandler, kwargs),
        (r"/api/hello", HelloHandler),
    ]
